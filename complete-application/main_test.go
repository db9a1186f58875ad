// The program as main runs it: run serves, logs and shuts down cleanly,
// refuses invalid configuration, and finds FusionAuth once it comes up.

package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunServesAndShutsDown starts the real program, as `go run` would, with
// FusionAuth down: the home page answers at once, and cancelling the context
// shuts it down cleanly.
func TestRunServesAndShutsDown(t *testing.T) {
	addr := freeAddr(t)
	env := map[string]string{
		"APP_URL": "http://" + addr,
		"ISSUER":  "http://" + freeAddr(t), // Nothing listens there.
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- run(ctx, []string{"changebank"}, func(name string) string { return env[name] }, &stdout, &stderr)
	}()

	resp := waitForResponse(t, "http://"+addr+"/")
	t.Logf("start to first response: %s", time.Since(start))
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "Welcome to Changebank, please login.")

	resp, err = http.Get("http://" + addr + "/login")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "login while FusionAuth is down")

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}
	assert.Contains(t, stdout.String(), "Changebank is running at http://"+addr)
	assert.Contains(t, stderr.String(), "APP_SECRET_KEY is not set")
	assert.Contains(t, stderr.String(), "path=/login status=503")
	assert.NotContains(t, stderr.String(), "super-secret", "the log holds no secret")
}

func TestRunRefusesInvalidConfig(t *testing.T) {
	err := run(t.Context(), nil, func(name string) string {
		if name == "APP_SECRET_KEY" {
			return "short"
		}
		return ""
	}, io.Discard, io.Discard)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "APP_SECRET_KEY:"), err.Error())
}

// TestRunServesLoginOnceFusionAuthComesUp starts the real program with
// FusionAuth down: public pages work, login answers a 503 page, and once
// FusionAuth listens on its address, login works in the same process within
// the discovery retry interval.
func TestRunServesLoginOnceFusionAuthComesUp(t *testing.T) {
	t.Parallel() // It waits for timeouts; let other tests run meanwhile.
	appAddr, idpAddr := freeAddr(t), freeAddr(t)
	appURL, issuer := "http://"+appAddr, "http://"+idpAddr
	env := map[string]string{"APP_URL": appURL, "ISSUER": issuer, "APP_SECRET_KEY": testSecretKey}
	startRunAt(t, appAddr, env)

	browser := &testApp{t: t, url: appURL, client: newBrowserClient(t)}
	assert.Equal(t, http.StatusOK, browser.get("/").StatusCode, "home while FusionAuth is down")
	assertErrorPage(t, browser.get("/login"), http.StatusServiceUnavailable)
	assertErrorPage(t, browser.get("/login"), http.StatusServiceUnavailable)
	assert.Equal(t, http.StatusOK, browser.get("/static/changebank.css").StatusCode)

	idp, err := fusionauthtest.Start(idpAddr, fusionauthtest.Options{Issuer: issuer})
	require.NoError(t, err)
	t.Cleanup(idp.Close)
	registerRedirectURLs(t, idp, appURL)
	browser.idp = idp

	up := time.Now()
	var status int
	for time.Since(up) < discoveryRetryInterval+5*time.Second {
		if status = browser.get("/login").StatusCode; status == http.StatusSeeOther {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, http.StatusSeeOther, status, "login once FusionAuth is up")
	t.Logf("login worked %s after FusionAuth came up (discovery retry interval %s)", time.Since(up).Round(time.Millisecond), discoveryRetryInterval)
	assert.LessOrEqual(t, time.Since(up), discoveryRetryInterval+3*time.Second, "FusionAuth is found again within the retry interval")

	require.NoError(t, browser.logInAs(testUserEmail, testUserPassword))
	assert.Equal(t, testUserEmail, elementText(browser.get("/account").body, "email"))
}

// startRunAt runs the program with env until the test ends, and waits until
// it answers at addr, the address it listens on.
func startRunAt(t *testing.T, addr string, env map[string]string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"changebank"}, func(name string) string { return env[name] }, io.Discard, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "run")
		case <-time.After(15 * time.Second):
			t.Error("run did not return after its context was cancelled")
		}
		if t.Failed() {
			t.Logf("log of the instance on %s:\n%s", addr, stderr.String())
		}
	})
	resp := waitForResponse(t, "http://"+addr+"/")
	resp.Body.Close()
}

// lockedBuffer is a bytes.Buffer that run's logger and the test can share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitForResponse polls url until the server answers.
func waitForResponse(t *testing.T, url string) *http.Response {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer from %s: %v", url, err)
		}
		time.Sleep(time.Millisecond)
	}
}

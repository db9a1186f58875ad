// The program as main runs it: run serves, logs and shuts down cleanly,
// refuses invalid configuration and a busy port, bounds the request header,
// and finds FusionAuth once it comes up.

package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
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
	assert.Contains(t, string(body), "Welcome to Changebank, please log in.")

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

// TestRunExplainsABusyPort: when another program holds the port, run
// returns at once with an error that names the port and says what to do.
func TestRunExplainsABusyPort(t *testing.T) {
	other, err := net.Listen("tcp", ":0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close() })
	_, port, err := net.SplitHostPort(other.Addr().String())
	require.NoError(t, err)
	env := map[string]string{"PORT": port, "ISSUER": "http://" + freeAddr(t), "APP_SECRET_KEY": testSecretKey}

	done := make(chan error, 1)
	go func() {
		done <- run(t.Context(), []string{"changebank"}, func(name string) string { return env[name] }, io.Discard, io.Discard)
	}()
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		require.FailNow(t, "run did not return although the port is taken")
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), ":"+port, "the message names the port")
	assert.Contains(t, err.Error(), "another program uses the port: stop it, or set PORT to a free port")
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
	// The interval run's client waits between discovery attempts.
	parsedAppURL, err := url.Parse(appURL)
	require.NoError(t, err)
	retryInterval := newOIDCClient(loginConfig{AppURL: parsedAppURL}).retryInterval

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
	for time.Since(up) < retryInterval+5*time.Second {
		if status = browser.get("/login").StatusCode; status == http.StatusSeeOther {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, http.StatusSeeOther, status, "login once FusionAuth is up")
	t.Logf("login worked %s after FusionAuth came up (discovery retry interval %s)", time.Since(up).Round(time.Millisecond), retryInterval)
	assert.LessOrEqual(t, time.Since(up), retryInterval+3*time.Second, "FusionAuth is found again within the retry interval")

	require.NoError(t, browser.logInAs(testUserEmail, testUserPassword))
	assert.Equal(t, testUserEmail, elementText(browser.get("/account").body, "email"))
}

// TestRunLimitsTheRequestHeaderSize proves that the server run starts bounds
// the request header: a Cookie header of about 100 KB, which costs the
// server CPU to parse on every request, is refused with 431 Request Header
// Fields Too Large, while a 16 KB one (four full cookies and more) is served.
func TestRunLimitsTheRequestHeaderSize(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	addr := freeAddr(t)
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	startRunAt(t, addr, map[string]string{"APP_URL": "http://" + addr, "PORT": port, "ISSUER": idp.URL(), "APP_SECRET_KEY": testSecretKey})

	tests := []struct {
		name       string
		size       int
		wantStatus int
	}{
		{"16 KB", 16 << 10, http.StatusOK},
		{"100 KB", 100 << 10, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
			require.NoError(t, err)
			req.Header.Set("Cookie", "padding="+strings.Repeat("a", tt.size))
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tt.wantStatus, resp.StatusCode, "GET / with a %s Cookie header", tt.name)
		})
	}
}

// Helpers for running the program (also used by replicas_test.go).

// startRunAt runs the program, as main does, with env, until the test ends;
// it returns once the home page answers at addr, and with the program's log.
func startRunAt(t *testing.T, addr string, env map[string]string) *lockedBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"changebank"}, func(name string) string { return env[name] }, io.Discard, stderr)
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
	return stderr
}

// waitForResponse polls url until it answers, for up to 10 seconds.
func waitForResponse(t *testing.T, url string) *http.Response {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			return resp
		}
		if time.Now().After(deadline) {
			require.NoError(t, err, "waiting for %s", url)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

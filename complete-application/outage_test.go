package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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

// TestSessionOutlivesAFusionAuthOutage: while FusionAuth is unreachable, a
// logged-in user keeps working on locally verified tokens; once the access
// token expires the refresh cannot happen, and the user gets a clear 502
// page (never a 500) while keeping the session; once FusionAuth is back, the
// same session refreshes and carries on.
func TestSessionOutlivesAFusionAuthOutage(t *testing.T) {
	t.Parallel() // It waits for timeouts; let other tests run meanwhile.
	tests := []struct {
		name    string
		outage  func(f *idpFront)
		recover func(f *idpFront)
	}{
		{"connections refused", (*idpFront).down, (*idpFront).up},
		{"no answer", func(f *idpFront) { f.setHanging(true) }, func(f *idpFront) { f.setHanging(false) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			front := newIDPFront(t)
			app := front.newApp(t)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

			tt.outage(front)
			for path, want := range map[string]string{"/account": testUserEmail, "/make-change": `id="make-change-form"`} {
				resp := app.get(path)
				assert.Equal(t, http.StatusOK, resp.StatusCode, "GET %s during the outage: %s", path, resp.body)
				assert.Contains(t, resp.body, want, path)
			}
			change := app.post("/make-change", url.Values{"amount": {"1.02"}})
			assert.Equal(t, http.StatusOK, change.StatusCode, change.body)

			// The access token expires; the refresh cannot reach FusionAuth.
			front.idp.Advance(61 * time.Minute)
			front.idp.ResetRequests()
			start := time.Now()
			resp := app.get("/account")
			assertErrorPage(t, resp, http.StatusBadGateway)
			assert.Less(t, time.Since(start), app.auth.httpClient.Timeout+3*time.Second, "the refresh gives up in time")
			for _, name := range sessionCookies {
				assert.NotEmpty(t, app.cookie(name), "an outage does not end the session: cookie %s", name)
			}
			assert.Equal(t, http.StatusOK, app.get("/").StatusCode, "the home page works during the outage")

			tt.recover(front)
			resp = app.get("/account")
			assert.Equal(t, http.StatusOK, resp.StatusCode, "after the outage: %s", resp.body)
			assert.Equal(t, testUserEmail, elementText(resp.body, "email"))
			assert.Equal(t, 1, requestsTo(front.idp, "/oauth2/token"), "one successful refresh after the outage")
		})
	}
}

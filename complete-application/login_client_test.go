// Discovery and the client every call to FusionAuth goes through: the exact
// issuer, an app that starts before FusionAuth and logs in once it is up,
// and redirects from FusionAuth that are answers, never orders.

package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDiscoveryRequiresTheExactIssuer: an ISSUER that names FusionAuth by
// another spelling of its address does not match the issuer its discovery
// document states, so login is unavailable rather than half checked; the
// control uses the exact issuer.
func TestDiscoveryRequiresTheExactIssuer(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	u, err := url.Parse(idp.URL())
	require.NoError(t, err)
	for _, tt := range []struct {
		issuer string
		want   int
	}{
		{"http://localhost:" + u.Port(), http.StatusServiceUnavailable},
		{idp.URL() + "/", http.StatusServiceUnavailable},
		{idp.URL(), http.StatusSeeOther},
	} {
		app := newAppFor(t, idp, tt.issuer, nil)
		resp := app.get("/login")
		assert.Equal(t, tt.want, resp.StatusCode, "ISSUER=%s: %s", tt.issuer, outline(resp))
	}
}

// TestLoginWorksOnceFusionAuthStarts: the app starts and serves public pages
// while FusionAuth is down, answers login with a 503 page, and logs in
// without a restart once FusionAuth is up.
func TestLoginWorksOnceFusionAuthStarts(t *testing.T) {
	addr := freeAddr(t)
	issuer := "http://" + addr
	app := newAppBeforeFusionAuth(t, issuer)

	assert.Equal(t, http.StatusOK, app.get("/").StatusCode)
	assertErrorPage(t, app.get("/login"), http.StatusServiceUnavailable)
	assert.Equal(t, http.StatusOK, app.get("/static/changebank.css").StatusCode)

	idp, err := fusionauthtest.Start(addr, fusionauthtest.Options{Issuer: issuer})
	require.NoError(t, err)
	t.Cleanup(idp.Close)
	app.idp = idp
	registerRedirectURLs(t, idp, app.url)

	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	assert.Equal(t, testUserEmail, elementText(app.get("/account").body, "email"))
}

// TestFusionAuthRedirectsAreNotFollowed: a 307 from the token endpoint or
// the Logout API is an answer, not an order: the code, the verifier, the
// client secret and the refresh token never go where it points.
func TestFusionAuthRedirectsAreNotFollowed(t *testing.T) {
	var leaked atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Add(1)
	}))
	t.Cleanup(elsewhere.Close)
	front := newIDPFront(t)
	app := front.newApp(t)

	front.setRedirect("/oauth2/token", elsewhere.URL)
	callback, err := app.loginCallback(testUserEmail, testUserPassword)
	require.NoError(t, err)
	resp := app.get(callback)
	assertErrorPage(t, resp, http.StatusBadGateway)
	assertLoginRefusedFor(t, app, "cannot fetch token: 307 Temporary Redirect")
	assertSetsNoSession(t, resp.Response)
	assert.Zero(t, leaked.Load(), "the token request was not sent elsewhere")

	// The control, in a fresh browser: without the redirect, login works.
	front.setRedirect("/oauth2/token", "")
	app = app.newBrowser()
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	front.setRedirect("/api/logout", elsewhere.URL)
	logout := app.post("/logout", nil)
	assert.Equal(t, http.StatusSeeOther, logout.StatusCode, "FusionAuth's session is still ended: %s", logout.body)
	assert.Zero(t, leaked.Load(), "the refresh token was not sent elsewhere")
	assert.Contains(t, app.logs.String(), `revocation="failed: /api/logout answered 307 Temporary Redirect"`, "the log says what the Logout API answered")
}

// Helpers for the client tests.

// newAppBeforeFusionAuth starts the application with an issuer nothing
// answers at yet. The test sets the returned app's idp, and registers the
// app's URLs, once it has started FusionAuth.
func newAppBeforeFusionAuth(t testing.TB, issuer string) *testApp {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	app := &testApp{t: t, url: "http://" + srv.Listener.Addr().String(), logs: &lockedBuffer{}, client: newBrowserClient(t), srv: srv}
	env := map[string]string{"APP_URL": app.url, "ISSUER": issuer, "APP_SECRET_KEY": testSecretKey}
	// The stand-in's clock, unmoved, is the wall clock.
	var handler http.Handler
	handler, app.oidc, app.sessions = newHandlerFromEnv(t, env, time.Now, io.MultiWriter(testLogOutput(t), app.logs))
	srv.Config.Handler = handler
	srv.Start()
	t.Cleanup(srv.Close)
	return app
}

// TestDiscoveryFailureIsKeptForTheRetryInterval: while FusionAuth's discovery
// fails, the requests within the retry interval get the 503 page at once,
// without asking FusionAuth again (one attempt is logged); the first request
// after the interval asks again, and logs in once FusionAuth answers.
func TestDiscoveryFailureIsKeptForTheRetryInterval(t *testing.T) {
	front := newIDPFront(t)
	front.setBroken("/.well-known/openid-configuration", true)
	app := front.newApp(t)
	app.oidc.retryInterval = time.Minute // on the stand-in's clock

	for range 5 {
		assertErrorPage(t, app.get("/login"), http.StatusServiceUnavailable)
	}
	assert.Equal(t, 1, strings.Count(app.logs.String(), "discovery failed"), "one discovery attempt for five requests")

	front.setBroken("/.well-known/openid-configuration", false)
	assertErrorPage(t, app.get("/login"), http.StatusServiceUnavailable)
	front.idp.Advance(time.Minute + time.Second)
	resp := app.get("/login")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "after the retry interval: %s", outline(resp))
	assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), front.url+"/oauth2/authorize?"), "on to FusionAuth")
}

// What every response gets from the middleware: the security headers, HSTS
// behind https only, no caching of anything that depends on the session or
// sets a cookie, and forms refused when another site posts them.

package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHSTSOnlyWithHTTPS: Strict-Transport-Security comes with an https
// APP_URL, and never over plain http, where browsers would ignore it and it
// would pin a development host.
func TestHSTSOnlyWithHTTPS(t *testing.T) {
	for _, appURL := range []string{"https://changebank.example", "http://localhost:5000"} {
		env := map[string]string{"APP_URL": appURL, "APP_SECRET_KEY": testSecretKey, "CLIENT_SECRET": "own-secret"}
		handler, _, _ := newHandlerFromEnv(t, env, time.Now, io.Discard)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, appURL+"/", nil))
		require.Equal(t, http.StatusOK, rec.Code)
		want := ""
		if strings.HasPrefix(appURL, "https:") {
			want = "max-age=31536000"
		}
		assert.Equal(t, want, rec.Header().Get("Strict-Transport-Security"), appURL)
		assertSecurityHeaders(t, rec.Result())
	}
}

// TestCrossOriginPostsAreRefused: another site cannot post the app's forms,
// whether the browser says so in Sec-Fetch-Site or only in Origin; the
// same forms from the app's own pages work.
func TestCrossOriginPostsAreRefused(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	crossSite := map[string]map[string]string{
		"Sec-Fetch-Site": {"Origin": "https://evil.example.com", "Sec-Fetch-Site": "cross-site"},
		"Origin only":    {"Origin": "https://evil.example.com"},
	}
	for _, path := range []string{"/logout", "/make-change"} {
		for name, headers := range crossSite {
			req, err := http.NewRequest(http.MethodPost, app.url+path, strings.NewReader("amount=1"))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range headers {
				req.Header.Set(k, v)
			}
			resp := app.do(req)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%s (%s)", path, name)
			assert.NotEmpty(t, elementText(resp.body, "error"), "%s (%s)", path, name)
			assertDeletesNoSessionCookie(t, resp.Response)
		}
	}
	assert.Equal(t, http.StatusOK, app.get("/account").StatusCode, "still logged in")
	// The control: the same form from the app's own page is answered.
	own := app.post("/make-change", url.Values{"amount": {"1"}})
	assert.Equal(t, http.StatusOK, own.StatusCode, outline(own))
}

// TestSessionPagesAreNotCached: every page that depends on the session, or
// may set or delete its cookies, tells every cache, the browser's history
// included, not to keep it; the static files may be cached.
func TestSessionPagesAreNotCached(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	visitor := newTestApp(t, idp)
	user := visitor.newBrowser()
	require.NoError(t, user.logInAs(testUserEmail, testUserPassword))

	tests := []struct {
		who              string
		browser          *testApp
		method, path     string
		wantCacheControl string
	}{
		{"a visitor", visitor, "GET", "/login", "no-store"},
		{"a visitor", visitor, "GET", "/callback", "no-store"},
		{"a visitor", visitor, "GET", "/account", "no-store"},
		{"a visitor", visitor, "GET", "/make-change", "no-store"},
		{"a visitor", visitor, "POST", "/make-change", "no-store"},
		{"a visitor", visitor, "GET", "/logout", "no-store"},
		{"a visitor", visitor, "POST", "/logout", "no-store"},
		{"a visitor", visitor, "GET", "/static/changebank.css", "public, max-age=3600"},
		{"a user", user, "GET", "/account", "no-store"},
		{"a user", user, "GET", "/make-change", "no-store"},
		{"a user", user, "POST", "/make-change", "no-store"},
		{"a user", user, "GET", "/static/changebank.css", "public, max-age=3600"},
		// Last: it ends the session.
		{"a user", user, "POST", "/logout", "no-store"},
	}
	for _, tt := range tests {
		var resp response
		if tt.method == http.MethodPost {
			resp = tt.browser.post(tt.path, url.Values{"amount": {"1"}})
		} else {
			resp = tt.browser.get(tt.path)
		}
		assert.Equal(t, tt.wantCacheControl, resp.Header.Get("Cache-Control"), "%s %s for %s: %s", tt.method, tt.path, tt.who, outline(resp))
	}
}

// TestRefreshOnTheHomePageIsNotCached: GET / refreshes an expired session
// before sending the user to the account page; that answer sets cookies, so
// no cache may keep it.
func TestRefreshOnTheHomePageIsNotCached(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	idp.Advance(61 * time.Minute) // Past the kickstart's one-hour access tokens.

	resp := app.get("/")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
	assert.NotEmpty(t, resp.Cookies(), "the refresh set new cookies")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	// The logged-out home page is not cached either: a cache would show it to
	// a user who has since logged in.
	visitor := app.newBrowser()
	home := visitor.get("/")
	assert.Empty(t, home.Cookies())
	assert.Equal(t, "no-store", home.Header.Get("Cache-Control"))
}

// Helpers for the pages' and the middleware's tests.

// assertSecurityHeaders checks the headers every response must carry.
func assertSecurityHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	csp := resp.Header.Get("Content-Security-Policy")
	assert.NotEmpty(t, csp, "Content-Security-Policy")
	assert.NotContains(t, csp, "unsafe-inline")
	assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	assert.Equal(t, "same-origin", resp.Header.Get("Cross-Origin-Opener-Policy"))
}

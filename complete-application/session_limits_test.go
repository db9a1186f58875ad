package main

import (
	"net/http"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newLimitedTestApp is newTestApp with the session limits of a default
// configuration.
func newLimitedTestApp(t *testing.T, idp *fusionauthtest.Server) *testApp {
	t.Helper()
	app := newTestApp(t, idp)
	app.auth.sessionIdleTimeout = defaultSessionIdleTimeout
	app.auth.sessionMaxLifetime = defaultSessionMaxLifetime
	return app
}

// assertEndedLocally checks that a session was refused without asking
// FusionAuth anything, and its cookies deleted.
func assertEndedLocally(t *testing.T, resp response, idp *fusionauthtest.Server) {
	t.Helper()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assertDeletesSession(t, resp.Response)
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Empty(t, idp.Requests(), "the session's limits need no FusionAuth")
}

// TestIdleSessionEnds: a session unused for longer than the idle timeout
// is refused, although its access token is still valid; one used within it
// is served, and use renews it.
func TestIdleSessionEnds(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newLimitedTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	// Used every 14 minutes, well past the 15-minute timeout in total.
	for range 3 {
		idp.Advance(defaultSessionIdleTimeout - time.Minute)
		require.Equal(t, http.StatusOK, app.get("/account").StatusCode, "a session in use lives on")
	}
	idp.Advance(defaultSessionIdleTimeout + time.Second)
	idp.ResetRequests()
	assertEndedLocally(t, app.get("/account"), idp)
	assertLoggedOut(t, app)
}

// TestSessionEndsAtItsMaximumLifetime: a session in constant use, whose
// refresh token FusionAuth would still honour, ends at the absolute
// lifetime from login, without a refresh at FusionAuth.
func TestSessionEndsAtItsMaximumLifetime(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newLimitedTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	step := defaultSessionIdleTimeout - time.Minute
	var used time.Duration
	for used+step < defaultSessionMaxLifetime {
		idp.Advance(step)
		used += step
		require.Equal(t, http.StatusOK, app.get("/account").StatusCode, "after %s", used)
	}
	idp.Advance(defaultSessionMaxLifetime - used + time.Second)
	idp.ResetRequests()
	assertEndedLocally(t, app.get("/account"), idp)
}

// TestSessionUseSetsACookieAtMostOncePerInterval: renewing the last-use
// time does not make every response set a cookie.
func TestSessionUseSetsACookieAtMostOncePerInterval(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newLimitedTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	resp := app.get("/account")
	assert.Empty(t, resp.Cookies(), "a request right after login sets no cookie")
	idp.Advance(seenInterval - time.Second)
	assert.Empty(t, app.get("/account").Cookies(), "nor one within the interval")
	idp.Advance(2 * time.Second)
	resp = app.get("/account")
	require.Len(t, resp.Cookies(), 1, "past the interval, the last use is renewed")
	assert.Equal(t, userCookie, resp.Cookies()[0].Name)
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
}

// TestStaleCookiesCannotDriveRefreshes: a cookie set replayed over and
// over without the cookies its refresh set (a copy, or a client that ignores
// Set-Cookie) makes at most one refresh at FusionAuth per share window, and
// none once it is idle.
func TestStaleCookiesCannotDriveRefreshes(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newLimitedTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	// Past the access token's expiry; the idle timeout is lifted until the
	// end of the test.
	app.auth.sessionIdleTimeout = 2 * time.Hour
	idp.Advance(61 * time.Minute)
	stale := app.copyOfCookies()
	idp.ResetRequests()

	for range 20 {
		replay := stale.copyOfCookies()
		assert.Equal(t, http.StatusOK, replay.get("/account").StatusCode)
	}
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "one refresh for twenty replays")

	idp.Advance(refreshShareWindow)
	assert.Equal(t, http.StatusOK, stale.copyOfCookies().get("/account").StatusCode)
	assert.Equal(t, 2, requestsTo(idp, "/oauth2/token"), "one more refresh after the window")

	app.auth.sessionIdleTimeout = defaultSessionIdleTimeout
	idp.ResetRequests()
	assertEndedLocally(t, stale.copyOfCookies().get("/account"), idp)
}

// TestRefreshOnTheHomePageIsNotCached: GET / refreshes an expired session
// before sending the user to the account page; that answer sets cookies, so
// no cache may keep it.
func TestRefreshOnTheHomePageIsNotCached(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	idp.Advance(61 * time.Minute)

	resp := app.get("/")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
	assert.NotEmpty(t, resp.Cookies(), "the refresh set new cookies")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	// The control: the logged-out home page sets no cookie and may be cached.
	visitor := app.newBrowser()
	home := visitor.get("/")
	assert.Empty(t, home.Cookies())
	assert.Empty(t, home.Header.Get("Cache-Control"))
}

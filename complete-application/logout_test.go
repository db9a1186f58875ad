// Logging out: the POST revokes the refresh token and sends the browser to
// FusionAuth's end-session endpoint, with or without the ID token; the return
// is checked; the front-channel GET is idempotent; a copy of the cookies
// taken before logout dies.

package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLogoutRevokesTheRefreshToken: logout revokes the refresh token with
// FusionAuth's Logout API before it sends the browser to end FusionAuth's
// session, so a copy of the cookies taken before logout dies once its access
// token expires: FusionAuth refuses its refresh. The control copies the
// cookies the same way without a logout, and the copy is refreshed.
func TestLogoutRevokesTheRefreshToken(t *testing.T) {
	for _, logOut := range []bool{true, false} {
		t.Run(fmt.Sprintf("logout=%t", logOut), func(t *testing.T) {
			idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
			app := newTestApp(t, idp)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			refreshToken, err := app.auth.cookies.open(refreshTokenCookie, app.cookie(refreshTokenCookie))
			require.NoError(t, err)
			copied := app.copyOfCookies()

			if logOut {
				idp.ResetRequests()
				resp := app.post("/logout", nil)
				require.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
				var revocations []fusionauthtest.Request
				for _, r := range idp.Requests() {
					if r.Path == "/api/logout" {
						revocations = append(revocations, r)
					}
				}
				require.Len(t, revocations, 1, "one call to the Logout API")
				assert.Equal(t, http.MethodPost, revocations[0].Method)
				assert.Empty(t, revocations[0].Header.Get("Authorization"), "the Logout API needs no API key")
				assert.Empty(t, revocations[0].Query, "the refresh token is not in the URL")
				assert.JSONEq(t, fmt.Sprintf(`{"global":false,"refreshToken":%q}`, refreshToken), string(revocations[0].Body))
			}

			idp.Advance(61 * time.Minute) // Past the kickstart's one-hour access tokens.
			idp.ResetRequests()
			resp := copied.getAfterRetry("/account")
			assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the copy's refresh at FusionAuth")
			if !logOut {
				assert.Equal(t, http.StatusOK, resp.StatusCode, "without logout the copy lives on: %s", resp.body)
				return
			}
			assertRefreshEndedSession(t, resp, copied, idp)
		})
	}
}

// TestLogoutWithoutIDTokenEndsFusionAuthSession: a browser that lost its ID
// token cookie still goes through FusionAuth's end-session endpoint, with
// client_id, so FusionAuth's session ends and the next login asks for a
// password; the refresh token is revoked all the same.
func TestLogoutWithoutIDTokenEndsFusionAuthSession(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	require.True(t, app.ssoSessionAlive(), "the control: FusionAuth remembers the user")
	app.deleteCookie(idTokenCookie)
	idp.ResetRequests()

	resp := app.post("/logout", nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
	endSession, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, idp.URL()+"/oauth2/logout", endSession.Scheme+"://"+endSession.Host+endSession.Path)
	q := endSession.Query()
	assert.Equal(t, testClientID, q.Get("client_id"))
	assert.Equal(t, app.url+"/logout", q.Get("post_logout_redirect_uri"))
	assert.NotEmpty(t, q.Get("state"))
	assert.False(t, q.Has("id_token_hint"), "no hint without the ID token")
	assert.Equal(t, 1, requestsTo(idp, "/api/logout"), "the refresh token is revoked")

	app.get(endSession.String())
	assert.False(t, app.ssoSessionAlive(), "FusionAuth's session is over")
}

// ssoSessionAlive reports whether FusionAuth would log this browser in
// without its login form.
func (a *testApp) ssoSessionAlive() bool {
	a.t.Helper()
	authorize, err := a.startLogin()
	require.NoError(a.t, err)
	resp := a.get(authorize.String())
	return resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther
}

// TestLogoutReturnChecksState: FusionAuth sends the browser back with the
// state of the logout it started; only that state lands quietly on the home
// page. Another state still logs out, with a page that says FusionAuth's
// logout is not confirmed. No state at all is the front-channel call from
// FusionAuth's logout page, which must not use up the logout's state.
func TestLogoutReturnChecksState(t *testing.T) {
	tests := []struct {
		name       string
		state      func(sent string) string
		wantStatus int
	}{
		{"the state sent", func(sent string) string { return sent }, http.StatusSeeOther},
		{"another state", func(sent string) string { return sent + "x" }, http.StatusBadRequest},
		{"no state", func(string) string { return "" }, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
			app := newTestApp(t, idp)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			logout := app.post("/logout", nil)
			require.Equal(t, http.StatusSeeOther, logout.StatusCode)
			endSession, err := url.Parse(logout.Header.Get("Location"))
			require.NoError(t, err)
			// Cookies the return must delete, from a login through
			// FusionAuth's session, which the logout has not ended yet.
			require.True(t, app.ssoSessionAlive(), "FusionAuth's session logs in at once")
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

			target := "/logout"
			if state := tt.state(endSession.Query().Get("state")); state != "" {
				target += "?state=" + url.QueryEscape(state)
			}
			resp := app.get(target)
			assert.Equal(t, tt.wantStatus, resp.StatusCode, resp.body)
			assertDeletesSession(t, resp.Response)
			assertLoggedOut(t, app)
			switch tt.wantStatus {
			case http.StatusSeeOther:
				assert.Equal(t, "/", resp.Header.Get("Location"))
			default:
				assertErrorPage(t, resp, tt.wantStatus)
				assert.Contains(t, resp.body, "You are logged out of Changebank")
			}
			assert.Equal(t, tt.name == "no state", app.cookie(logoutCookie) != "",
				"the logout's state cookie is kept only by a call without state")
		})
	}
}

// TestFrontChannelLogout: FusionAuth may load GET /logout in a hidden
// iframe, more than once; it clears the cookies and only FusionAuth may frame it.
func TestFrontChannelLogout(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	for range 2 {
		resp := app.get("/logout")
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
		assert.Equal(t, "/", resp.Header.Get("Location"))
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors "+idp.URL())
		assert.Empty(t, resp.Header.Get("X-Frame-Options"))
	}
	assertLoggedOut(t, app)
	// The logout page's own headers must not leak into the next response.
	home := app.get("/")
	assert.Contains(t, home.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'",
		"other pages cannot be framed")
	assert.Equal(t, "DENY", home.Header.Get("X-Frame-Options"), "other pages cannot be framed")
}

// TestLogoutWhenFusionAuthIsDown: the user is logged out of Changebank and
// told plainly that the FusionAuth session may still be active.
func TestLogoutWhenFusionAuthIsDown(t *testing.T) {
	front := newIDPFront(t)
	app := front.newApp(t)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	front.down()

	resp := app.post("/logout", nil)
	assertErrorPage(t, resp, http.StatusServiceUnavailable)
	assert.Contains(t, resp.body, "You are logged out of Changebank")
	assert.Contains(t, resp.body, "your FusionAuth session may still be active")
	assertDeletesSession(t, resp.Response)
	assertLoggedOut(t, app)
}

// TestLogoutIsLoggedWithTheSubject: the log says who logged out, and never
// the tokens.
func TestLogoutIsLoggedWithTheSubject(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	refreshToken, err := app.auth.cookies.open(refreshTokenCookie, app.cookie(refreshTokenCookie))
	require.NoError(t, err)
	var log lockedBuffer
	app.auth.logger = slog.New(slog.NewTextHandler(&log, nil))

	require.Equal(t, http.StatusSeeOther, app.post("/logout", nil).StatusCode)
	assert.Contains(t, log.String(), `msg="user logged out" sub=00000000-0000-0000-0000-111111111111`)
	assert.NotContains(t, log.String(), string(refreshToken))
}

// TestLogoutForgetsASharedRefresh: right after a refresh, its outcome is
// shared with requests that present the same refresh token; logout revokes
// that token, so a copy of the cookies must not get the shared tokens then.
func TestLogoutForgetsASharedRefresh(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	idp.Advance(61 * time.Minute)
	copied := app.copyOfCookies()
	require.Equal(t, http.StatusOK, app.get("/account").StatusCode, "the refresh, now shared")

	require.Equal(t, http.StatusSeeOther, app.post("/logout", nil).StatusCode)
	idp.ResetRequests()
	resp := copied.getAfterRetry("/account")
	assertRefreshEndedSession(t, resp, copied, idp)
}

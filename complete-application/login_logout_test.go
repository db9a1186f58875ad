// Logging out: the POST opens the session as every page does, revokes the
// refresh token (at the provider's RFC 7009 endpoint, or FusionAuth's Logout
// API) without piling up calls, and sends the browser to FusionAuth's
// end-session endpoint, with or without the ID token, with the Logout API or
// FusionAuth down; GET /logout acts only for FusionAuth (its front-channel
// iframe, or the return with the logout's state), tells the user when the
// revocation failed, and changes nothing for a link from another site; a copy
// of the cookies taken before logout, or a refresh answer arriving after any
// logout, never brings the session back; the log says who logged out and how
// the revocation went.

package main

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"sync"
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
			refreshToken := app.record().RefreshToken
			require.NotEmpty(t, refreshToken, "the session's refresh token")
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
			resp := copied.get("/account")
			if !logOut {
				assert.Equal(t, http.StatusOK, resp.StatusCode, "without logout the copy lives on: %s", outline(resp))
				assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the copy's refresh at FusionAuth")
				return
			}
			assertRefreshEndedSession(t, resp, copied, idp, 1, "FusionAuth refused the refresh token")
		})
	}
}

// TestLogoutRevokesAtTheAdvertisedRevocationEndpoint: standard first. A
// provider whose discovery document advertises an RFC 7009 revocation
// endpoint is asked there, with the client's credentials as at the token
// endpoint, and FusionAuth's Logout API is not called; a copy of the cookies
// is then refused at its next refresh. The control, FusionAuth as it is,
// advertises none, and its Logout API revokes.
func TestLogoutRevokesAtTheAdvertisedRevocationEndpoint(t *testing.T) {
	for _, advertised := range []bool{true, false} {
		t.Run(fmt.Sprintf("advertised=%t", advertised), func(t *testing.T) {
			idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
			if advertised {
				idp.InjectFault(fusionauthtest.FaultAdvertiseRevocationEndpoint)
			}
			app := newTestApp(t, idp)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			refreshToken := app.record().RefreshToken
			copied := app.copyOfCookies()
			idp.ResetRequests()

			require.Equal(t, http.StatusSeeOther, app.post("/logout", nil).StatusCode)
			if advertised {
				var calls []fusionauthtest.Request
				for _, r := range idp.Requests() {
					if r.Path == fusionauthtest.RevocationEndpointPath {
						calls = append(calls, r)
					}
				}
				require.Len(t, calls, 1, "one RFC 7009 revocation")
				assert.Equal(t, refreshToken, calls[0].Form.Get("token"))
				assert.Equal(t, "refresh_token", calls[0].Form.Get("token_type_hint"))
				user, _, ok := (&http.Request{Header: calls[0].Header}).BasicAuth()
				assert.True(t, ok && user == testClientID, "client authentication as at the token endpoint")
				assert.Zero(t, requestsTo(idp, "/api/logout"), "FusionAuth's Logout API is not used")
			} else {
				assert.Equal(t, []string{refreshToken}, logoutAPIRefreshTokens(t, idp))
				assert.Zero(t, requestsTo(idp, fusionauthtest.RevocationEndpointPath))
			}

			idp.Advance(61 * time.Minute) // Past the kickstart's one-hour access tokens.
			idp.ResetRequests()
			assertRefreshEndedSession(t, copied.get("/account"), copied, idp, 1, "FusionAuth refused the refresh token")
		})
	}
}

// TestLogoutRevokesEvenWhenTheBrowserHasGoneAway: the browser may close the
// connection as soon as it has sent the logout form; the refresh token is
// revoked all the same, because the Logout API call does not use the
// request's context.
func TestLogoutRevokesEvenWhenTheBrowserHasGoneAway(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	refreshToken := app.record().RefreshToken
	idp.ResetRequests()

	gone, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(gone, http.MethodPost, app.url+"/logout", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for _, name := range sessionCookies {
		req.AddCookie(&http.Cookie{Name: name, Value: app.cookie(name)})
	}
	rec := httptest.NewRecorder()
	app.handler().ServeHTTP(rec, req)

	assert.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	assert.Equal(t, []string{refreshToken}, logoutAPIRefreshTokens(t, idp), "the Logout API call, made after the browser went away")
	assert.False(t, refreshTokenUsable(t, idp, refreshToken), "FusionAuth still honours the logged-out session's refresh token")
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

// TestLogoutReturnChecksState: FusionAuth sends the browser back, at the end
// of a logout this app started, with its state; that state lands on the home
// page. Another state, or none, on a top-level navigation is not FusionAuth's
// answer to this browser's logout: a link on another site. It changes
// nothing: the session the browser holds by then stays, its refresh token
// is not revoked, and the page says so. The logout's marker stays whatever
// the state.
func TestLogoutReturnChecksState(t *testing.T) {
	tests := []struct {
		name        string
		state       func(sent string) string
		wantStatus  int
		wantEndSent bool // the return lands on the home page
	}{
		{"the state sent", func(sent string) string { return sent }, http.StatusSeeOther, true},
		{"another state", func(sent string) string { return sent + "x" }, http.StatusBadRequest, false},
		{"no state", func(string) string { return "" }, http.StatusBadRequest, false},
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
			// A session the return must leave alone, from a login through
			// FusionAuth's session, which the logout has not ended yet.
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			refreshToken := app.record().RefreshToken
			idp.ResetRequests()

			target := "/logout"
			if state := tt.state(endSession.Query().Get("state")); state != "" {
				target += "?state=" + url.QueryEscape(state)
			}
			resp := app.getFrom(target, "document", "cross-site")
			assert.Equal(t, tt.wantStatus, resp.StatusCode, resp.body)
			if tt.wantEndSent {
				assert.Equal(t, "/", resp.Header.Get("Location"))
			} else {
				assertErrorPage(t, resp, tt.wantStatus)
				assert.Contains(t, resp.body, html.EscapeString(msgLogoutNotStarted))
			}
			assertDeletesNoSessionCookie(t, resp.Response)
			assert.Zero(t, requestsTo(idp, "/api/logout"), "a return revokes nothing")
			assert.Equal(t, http.StatusOK, app.get("/account").StatusCode, "the session lives on")
			assert.True(t, refreshTokenUsable(t, idp, refreshToken), "the session's refresh token still works")
			assert.NotEmpty(t, app.cookie(logoutCookie), "oidc_logout stays, naming the session that ended")
		})
	}
}

// TestLogoutURLChangesNothingForOtherSites: GET /logout reached by a link on
// another site (a top-level navigation, which carries SameSite=Lax cookies),
// or any HEAD, neither ends the session nor revokes anything. The control is
// FusionAuth's front-channel iframe, which does both.
func TestLogoutURLChangesNothingForOtherSites(t *testing.T) {
	tests := []struct {
		name, method, dest, site string
		wantStatus               int
		wantEnded                bool
	}{
		{"a link on another site", http.MethodGet, "document", "cross-site", http.StatusBadRequest, false},
		{"a link without fetch metadata", http.MethodGet, "", "", http.StatusBadRequest, false},
		{"HEAD from an iframe", http.MethodHead, "iframe", "same-site", http.StatusNoContent, false},
		{"HEAD from a link", http.MethodHead, "document", "cross-site", http.StatusNoContent, false},
		{"FusionAuth's iframe, the control", http.MethodGet, "iframe", "same-site", http.StatusOK, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
			app := newTestApp(t, idp)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			refreshToken := app.record().RefreshToken
			idp.ResetRequests()

			req, err := http.NewRequest(tt.method, app.url+"/logout", nil)
			require.NoError(t, err)
			setFetchMetadata(req, tt.dest, tt.site)
			resp := app.do(req)
			assert.Equal(t, tt.wantStatus, resp.StatusCode, resp.body)
			if !tt.wantEnded {
				assertDeletesNoSessionCookie(t, resp.Response)
				assert.Zero(t, requestsTo(idp, "/api/logout"), "nothing is revoked")
				assert.Equal(t, http.StatusOK, app.get("/account").StatusCode, "the session lives on")
				assert.True(t, refreshTokenUsable(t, idp, refreshToken), "the refresh token still works")
				return
			}
			assertDeletesSession(t, resp.Response)
			assert.Equal(t, []string{refreshToken}, logoutAPIRefreshTokens(t, idp), "the session's refresh token is revoked")
			assertLoggedOut(t, app)
		})
	}
}

// TestLogoutReturnSaysWhenRevocationFailed: when the Logout API failed, the
// logout still ends FusionAuth's session, and the page the browser lands on
// says what that means: a copy of the session may keep working, and what to
// do. The control, a revocation that went through, lands on the home page.
func TestLogoutReturnSaysWhenRevocationFailed(t *testing.T) {
	for _, broken := range []bool{true, false} {
		t.Run(fmt.Sprintf("Logout API broken=%t", broken), func(t *testing.T) {
			front := newIDPFront(t)
			app := front.newApp(t)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			front.setBroken("/api/logout", broken)

			logout := app.post("/logout", nil)
			require.Equal(t, http.StatusSeeOther, logout.StatusCode, outline(logout))
			endSession := app.get(logout.Header.Get("Location"))
			returnURL := followLogoutPage(t, endSession)
			resp := app.getFrom(returnURL, "document", "cross-site")
			if !broken {
				assert.Equal(t, http.StatusSeeOther, resp.StatusCode, outline(resp))
				assert.Equal(t, "/", resp.Header.Get("Location"))
				return
			}
			assert.Equal(t, http.StatusOK, resp.StatusCode, outline(resp))
			assert.Contains(t, resp.body, html.EscapeString(msgLogoutNotRevoked))
			assertLoggedOut(t, app)
		})
	}
}

// followLogoutPage returns where FusionAuth's end-session answer sends the
// browser: a redirect, or its logging-out page's meta refresh.
func followLogoutPage(t testing.TB, resp response) string {
	t.Helper()
	if location := resp.Header.Get("Location"); location != "" {
		return location
	}
	m := regexp.MustCompile(`(?i)http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"`).FindStringSubmatch(resp.body)
	require.NotNil(t, m, "FusionAuth's logout page sends the browser on: %s", resp.body)
	return html.UnescapeString(m[1])
}

// TestFrontChannelLogout: FusionAuth may load GET /logout in a hidden
// iframe, more than once; it clears the cookies and only FusionAuth may frame it.
func TestFrontChannelLogout(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	for range 2 {
		resp := app.getFrom("/logout", "iframe", "same-site")
		assert.Equal(t, http.StatusOK, resp.StatusCode)
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

// TestFrontChannelLogoutRevokesTheRefreshToken proves that the front-channel
// GET /logout, which FusionAuth's logout page loads in an iframe when another
// application starts the logout, revokes the session's refresh token: it
// makes one Logout API call with it, and a copy of the cookies taken before
// it is refused at its next refresh.
func TestFrontChannelLogoutRevokesTheRefreshToken(t *testing.T) {
	front := newIDPFront(t)
	idp := front.idp
	app := front.newApp(t)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	refreshToken := front.lastRefreshToken("authorization_code")
	copied := app.copyOfCookies()
	idp.ResetRequests()

	resp := app.getFrom("/logout", "iframe", "same-site")
	assert.Equal(t, http.StatusOK, resp.StatusCode, outline(resp))
	assertDeletesSession(t, resp.Response)
	assert.Equal(t, []string{refreshToken}, logoutAPIRefreshTokens(t, idp), "one Logout API call with the session's refresh token")

	idp.Advance(61 * time.Minute) // Past the kickstart's one-hour access tokens.
	idp.ResetRequests()
	refused := copied.get("/account")
	assertRefreshEndedSession(t, refused, copied, idp, 1, "FusionAuth refused the refresh token")
}

// TestLogoutOpensTheSessionAsEveryPageDoes: a cookie set that would not open
// a page makes logout call nobody. A record past its lifetime, or a victim's
// record beside another session's token cookies, is not revoked; the browser
// still goes to end FusionAuth's session. The control, the session's own
// set, is revoked once.
func TestLogoutOpensTheSessionAsEveryPageDoes(t *testing.T) {
	tests := []struct {
		name       string
		tamper     func(t *testing.T, victim, other *testApp)
		wantRevoke bool
	}{
		{"the session's own cookies, the control", func(*testing.T, *testApp, *testApp) {}, true},
		{"a record past its lifetime", func(t *testing.T, victim, _ *testApp) {
			record := victim.record()
			record.StartedAt = record.StartedAt.Add(-9000 * time.Hour)
			victim.setRecord(record)
		}, false},
		{"a victim's record beside another session's tokens", func(t *testing.T, victim, other *testApp) {
			for _, name := range []string{accessTokenCookie, idTokenCookie} {
				victim.setCookie(name, other.cookie(name))
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
			victim := newTestApp(t, idp)
			require.NoError(t, victim.logInAs(testUserEmail, testUserPassword))
			refreshToken := victim.record().RefreshToken
			other := victim.newBrowser()
			require.NoError(t, other.logInAs(testUserEmail, testUserPassword))
			tt.tamper(t, victim, other)
			idp.ResetRequests()

			resp := victim.post("/logout", nil)
			require.Equal(t, http.StatusSeeOther, resp.StatusCode, outline(resp))
			assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), idp.URL()+"/oauth2/logout?"), "on to end FusionAuth's session")
			assertDeletesSession(t, resp.Response)
			if tt.wantRevoke {
				assert.Equal(t, []string{refreshToken}, logoutAPIRefreshTokens(t, idp))
				return
			}
			assert.Empty(t, logoutAPIRefreshTokens(t, idp), "no call to FusionAuth for a set that does not open")
			assert.True(t, refreshTokenUsable(t, idp, refreshToken), "the victim's refresh token is not revoked")
		})
	}
}

// TestLogoutsThatHangUpCannotPileUpRevocations: while FusionAuth's Logout API
// hangs, logouts whose browsers hang up at once hold at most maxRevocations
// calls to it, and their goroutines end with the calls. The revocation of a
// logout that did get a slot still outlives its browser (see
// TestLogoutRevokesEvenWhenTheBrowserHasGoneAway).
func TestLogoutsThatHangUpCannotPileUpRevocations(t *testing.T) {
	front := newIDPFront(t)
	app := front.newApp(t)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	front.setSlow("/api/logout", true)
	before := runtime.NumGoroutine()

	const logouts = 10 * maxRevocations
	var wg sync.WaitGroup
	for range logouts {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, app.url+"/logout", nil)
			if err != nil {
				return
			}
			for _, name := range sessionCookies {
				req.AddCookie(&http.Cookie{Name: name, Value: app.cookie(name)})
			}
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	assert.Eventually(t, func() bool { return front.atOnce("/api/logout") == maxRevocations }, 5*time.Second, 10*time.Millisecond,
		"the revocations that got a slot wait on FusionAuth")
	most := front.mostAtOnce("/api/logout")
	t.Logf("%d logouts that hung up: at most %d Logout API calls at once; goroutines %d before", logouts, most, before)
	assert.LessOrEqual(t, most, maxRevocations, "Logout API calls at once")
	// The app's HTTP client gives up after its timeout (one second here).
	assert.Eventually(t, func() bool { return front.atOnce("/api/logout") == 0 }, 5*time.Second, 50*time.Millisecond,
		"the held calls end at the upstream timeout")
	assert.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+5 }, 5*time.Second, 50*time.Millisecond,
		"the logouts' goroutines end: %d now, %d before", runtime.NumGoroutine(), before)
}

// TestLogoutWhenFusionAuthIsDown: the user is logged out of Changebank
// whatever happens to FusionAuth. Once discovery has worked, the browser
// still goes to FusionAuth's end-session endpoint when FusionAuth does not
// answer (the log says the Logout API call failed), so
// FusionAuth's session ends as soon as the browser reaches it again. Only an
// instance that never discovered FusionAuth has no end-session endpoint to
// send the browser to, and says plainly that FusionAuth's session may live on.
func TestLogoutWhenFusionAuthIsDown(t *testing.T) {
	t.Run("after discovery", func(t *testing.T) {
		front := newIDPFront(t)
		app := front.newApp(t)
		require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
		front.down()

		resp := app.post("/logout", nil)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, outline(resp))
		endSession, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		assert.Equal(t, front.url+"/oauth2/logout", endSession.Scheme+"://"+endSession.Host+endSession.Path)
		assert.Equal(t, testClientID, endSession.Query().Get("client_id"))
		assert.NotEmpty(t, endSession.Query().Get("state"))
		assertDeletesSession(t, resp.Response)
		assertLoggedOut(t, app)
		assert.Contains(t, app.logs.String(), `revocation="failed: `, "the log says the Logout API call failed")

		// FusionAuth is back when the browser arrives at end-session.
		front.up()
		app.get(endSession.String())
		assert.False(t, app.ssoSessionAlive(), "FusionAuth's session is over")
	})
	t.Run("discovery never worked", func(t *testing.T) {
		front := newIDPFront(t)
		first := front.newApp(t)
		require.NoError(t, first.logInAs(testUserEmail, testUserPassword))
		front.down()
		// Another instance with the same key, started while FusionAuth is down.
		restarted := front.newApp(t)
		browser := first.onApp(restarted)

		resp := browser.post("/logout", nil)
		assertErrorPage(t, resp, http.StatusServiceUnavailable)
		assert.Contains(t, resp.body, html.EscapeString(msgLogoutLocalOnly))
		assertDeletesSession(t, resp.Response)
		assertLoggedOut(t, browser)
		assert.Contains(t, restarted.logs.String(), `revocation="failed: `, "the log says the Logout API call failed")
	})
}

// TestLogoutWithTheLogoutAPIDownStillReachesEndSession proves that a Logout
// API answering 503 does not make the logout local-only: POST /logout still
// sends the browser to FusionAuth's end_session endpoint with client_id and
// state, and following it ends FusionAuth's session, so the next login at
// this browser shows the password form instead of signing in silently.
func TestLogoutWithTheLogoutAPIDownStillReachesEndSession(t *testing.T) {
	front := newIDPFront(t)
	app := front.newApp(t)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	require.True(t, app.ssoSessionAlive(), "the control: FusionAuth would log this browser in without a password")
	front.setBroken("/api/logout", true)

	resp := app.post("/logout", nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "POST /logout with the Logout API answering 503: %s", outline(resp))
	assertDeletesSession(t, resp.Response)
	endSession, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, front.url+"/oauth2/logout", endSession.Scheme+"://"+endSession.Host+endSession.Path)
	assert.Equal(t, testClientID, endSession.Query().Get("client_id"))
	assert.NotEmpty(t, endSession.Query().Get("state"))

	app.get(endSession.String())
	assert.False(t, app.ssoSessionAlive(), "the next login shows FusionAuth's password form")
	account := app.get("/account")
	assert.Equal(t, "/", account.Header.Get("Location"), "logged out of Changebank: %s", outline(account))
}

// TestLogoutNeverRefreshesACopyTakenBeforeARefresh proves that logout ends
// every refresh token of the session: a copy of the cookies taken before a
// refresh gets no tokens after logout. Under OneTimeUse the refresh used up
// the copy's token; under Reusable the copy holds the very token logout
// revokes.
func TestLogoutNeverRefreshesACopyTakenBeforeARefresh(t *testing.T) {
	for _, policy := range refreshTokenPolicies {
		t.Run(policy, func(t *testing.T) {
			idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
			setRefreshTokenPolicy(t, idp, policy)
			app := newTestApp(t, idp)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			idp.Advance(61 * time.Minute) // Past the kickstart's one-hour access tokens.
			copied := app.copyOfCookies()
			require.Equal(t, http.StatusOK, app.get("/account").StatusCode, "the refresh")
			refreshed := app.record().RefreshToken
			require.Equal(t, http.StatusSeeOther, app.post("/logout", nil).StatusCode, "the logout")
			idp.ResetRequests()

			resp := copied.get("/account")
			assert.NotContains(t, resp.body, testUserEmail, "the copy after logout shows the account: %s", outline(resp))
			assertRefreshEndedSession(t, resp, copied, idp, 1, "FusionAuth refused the refresh token")
			assert.False(t, refreshTokenUsable(t, idp, refreshed), "FusionAuth still honours the refreshed session's token")
		})
	}
}

// TestRefreshCompletingAfterLogoutDoesNotRestoreTheSession proves that a
// refresh whose answer arrives after the browser logged out does not bring
// the session back, whichever way the logout came: the app's own form, or
// FusionAuth's front-channel iframe. FusionAuth's answer to a tab's refresh
// is held back until the logout has gone through, and then reaches the same
// browser, which stores the cookies the app sets with it. The browser's next
// request must be logged out, and the refresh token of that late answer must
// be unusable at FusionAuth.
func TestRefreshCompletingAfterLogoutDoesNotRestoreTheSession(t *testing.T) {
	logouts := map[string]func(app *testApp) response{
		"POST /logout":                     func(app *testApp) response { return app.post("/logout", nil) },
		"GET /logout in FusionAuth's page": func(app *testApp) response { return app.getFrom("/logout", "iframe", "same-site") },
	}
	for name, logOut := range logouts {
		for _, policy := range refreshTokenPolicies {
			t.Run(name+"/"+policy, func(t *testing.T) {
				front := newIDPFront(t)
				setRefreshTokenPolicy(t, front.idp, policy)
				app := front.newApp(t)
				require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
				front.idp.Advance(61 * time.Minute) // Past the kickstart's one-hour access tokens.

				held, release := front.holdRefreshAnswers()
				defer release()
				late := make(chan error, 1)
				go func() {
					_, err := app.fetch("/account")
					late <- err
				}()
				select {
				case <-held:
				case <-time.After(5 * time.Second):
					require.FailNow(t, "the first tab's refresh never reached FusionAuth")
				}

				logout := logOut(app)
				require.Contains(t, []int{http.StatusOK, http.StatusSeeOther}, logout.StatusCode, "the logout: %s", outline(logout))
				release()
				select {
				case err := <-late:
					require.NoError(t, err, "the first tab's request")
				case <-time.After(5 * time.Second):
					require.FailNow(t, "the first tab's request never finished")
				}
				require.NotEmpty(t, app.cookie(sessionCookie), "the late answer stored the session's cookies again")

				resp := app.get("/account")
				assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "the browser's next request after logout: %s", outline(resp))
				assert.Equal(t, "/", resp.Header.Get("Location"))
				assert.NotContains(t, resp.body, testUserEmail, "the logged-out browser is shown the account")
				assertDeletesSession(t, resp.Response)
				lateRefreshToken := front.lastRefreshToken("refresh_token")
				assert.False(t, refreshTokenUsable(t, front.idp, lateRefreshToken), "FusionAuth still honours the late answer's refresh token")
			})
		}
	}
}

// TestLogoutIsLoggedWithTheSubject: the log says who logged out, and never
// the tokens.
func TestLogoutIsLoggedWithTheSubject(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	record := app.record()
	require.NotEmpty(t, record.RefreshToken)
	tokens := map[string]string{"refresh token": record.RefreshToken}
	for _, name := range []string{accessTokenCookie, idTokenCookie} {
		token, err := openSealed(app.sessions.cookies, name, record.ID, app.cookie(name))
		require.NoError(t, err, "opening %s", name)
		tokens[name] = string(token)
	}

	require.Equal(t, http.StatusSeeOther, app.post("/logout", nil).StatusCode)
	log := app.logs.String()
	// The kickstart's user id for richard@example.com.
	assert.Contains(t, log, `msg="user logged out" sub=00000000-0000-0000-0000-111111111111`)
	for name, token := range tokens {
		assert.NotContains(t, log, token, "the log holds the %s", name)
	}
}

// TestLogoutLogReportsTheLogoutAPIStatus proves that the logout's log line
// says what the app knows, whether the Logout API call went through, and
// never that the refresh token was revoked: FusionAuth answers 200 also when
// it revoked nothing. The 503 case keeps the value from being a constant.
func TestLogoutLogReportsTheLogoutAPIStatus(t *testing.T) {
	tests := []struct {
		name          string
		logoutAPIDown bool
		want          string
	}{
		{"the Logout API answers 200", false, `revocation=ok`},
		{"the Logout API answers 503", true, `revocation="failed: /api/logout answered 503 Service Unavailable"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			front := newIDPFront(t)
			app := front.newApp(t)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			front.setBroken("/api/logout", tt.logoutAPIDown)

			app.post("/logout", nil)
			log := app.logs.String()
			var logoutLines []string
			for line := range strings.Lines(log) {
				if strings.Contains(line, "logged out") {
					logoutLines = append(logoutLines, line)
				}
			}
			require.NotEmpty(t, logoutLines, "the logout is logged:\n%s", log)
			assert.Contains(t, strings.Join(logoutLines, ""), tt.want, "the logout's log line")
			for _, claim := range []string{"token_revoked", "token revoked", "revoked the"} {
				assert.NotContains(t, strings.ToLower(log), claim, "the log claims a revocation nobody confirmed")
			}
		})
	}
}

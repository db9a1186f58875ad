// A logged-in session: its record in a sealed JSON cookie, its token
// cookies sealed for the record's id, and what load makes of them. Bad,
// foreign or mixed cookies mean "logged out" before FusionAuth is asked; the
// session's own limits (idle timeout, maximum lifetime, no times in the
// future) hold without FusionAuth; the last use is renewed at most once a
// minute; replicas with one key share sessions, and one with another key
// logs the user out cleanly; and a session outlives a FusionAuth outage.

package main

import (
	"encoding/json"
	"fmt"
	"maps"
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

// TestSessionRecordKeepsEveryField: the record sealed into oidc_session opens
// with every field it was sealed with.
func TestSessionRecordKeepsEveryField(t *testing.T) {
	s := &sessionKeeper{cookies: newTestSealer(t, false, testSecretKey)}
	want := session{
		ID:           "the-session-id",
		Subject:      "00000000-0000-0000-0000-111111111111",
		Email:        "richard@example.com",
		Nonce:        "the login's nonce",
		RefreshToken: "the refresh token",
		StartedAt:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		SeenAt:       time.Date(2026, 1, 2, 4, 5, 6, 0, time.UTC),
	}
	c, err := s.cookies.seal(sessionCookie, "", want, 0)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "/account", nil)
	req.AddCookie(c)

	var got session
	require.NoError(t, s.cookies.open(req, sessionCookie, "", &got))
	assert.Equal(t, want, got)
}

// TestMalformedSessionRecordsAreRefused: a oidc_session that opens (it was
// sealed with the app's key) but does not hold a well-formed record means
// "logged out", with the session's cookies deleted and FusionAuth not asked,
// even when the rest of the cookie set is the real session's.
func TestMalformedSessionRecordsAreRefused(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	record, err := json.Marshal(app.record())
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(record, &fields))
	withField := func(name string, value any) string {
		edited := maps.Clone(fields)
		edited[name] = value
		data, err := json.Marshal(edited)
		require.NoError(t, err)
		return string(data)
	}

	// reason is in the reason the app logs for ending the session.
	const decoding = "decoding cookie oidc_session: "
	tests := map[string]struct{ value, reason string }{
		"the control: the record itself": {string(record), ""},
		"empty":                          {"", decoding + "unexpected end of JSON input"},
		"not JSON":                       {"richard", decoding + "invalid character 'r'"},
		// A record without times started long before the maximum lifetime.
		"JSON null":        {"null", "the session started more than"},
		"an array":         {"[]", decoding + "json: cannot unmarshal array into Go value of type main.session"},
		"a string":         {`"` + testUserEmail + `"`, decoding + "json: cannot unmarshal string into Go value of type main.session"},
		"trailing garbage": {string(record) + "x", decoding + "invalid character 'x' after top-level value"},
		// Every other field is right, so only the decoding error refuses it.
		"a nonce of the wrong type":  {withField("nonce", 5), decoding + "json: cannot unmarshal number into Go struct field session.nonce"},
		"a start that is not a time": {withField("started_at", "yesterday"), decoding + `parsing time "yesterday"`},
		"an id of the wrong type":    {withField("id", []string{"x"}), decoding + "json: cannot unmarshal array into Go struct field session.id"},
		"a binary, length-prefixed record": {"\x01\x00\x00\x24" + "00000000-0000-0000-0000-111111111111",
			decoding + `invalid character '\x01'`},
	}
	for n := range len(record) {
		tests[fmt.Sprintf("the first %d bytes", n)] = struct{ value, reason string }{string(record[:n]), decoding + "unexpected end of JSON input"}
	}
	for name, tt := range tests {
		browser := app.copyOfCookies()
		browser.setCookie(sessionCookie, sealBytes(app.sessions.cookies, sessionCookie, "", tt.value))
		idp.ResetRequests()
		resp := browser.get("/account")
		if tt.value == string(record) {
			assert.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", name, outline(resp))
			continue
		}
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "%s: %s", name, outline(resp))
		assert.Equal(t, "/", resp.Header.Get("Location"), name)
		assertDeletesSession(t, resp.Response)
		assertSessionEndedFor(t, browser, tt.reason, name)
		assert.Empty(t, idp.Requests(), "%s: FusionAuth is not asked", name)
	}
}

// TestBadSessionCookiesMeanLoggedOut: whatever is wrong with a session
// cookie, the answer is "logged out", never an error page or a panic.
func TestBadSessionCookiesMeanLoggedOut(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	otherKey := newTestSealer(t, false, otherSecretKey)

	tests := []struct {
		name   string
		tamper func(app *testApp)
		// reason is in the reason the app logs for ending the session, or
		// "" when the app finds no session to end.
		reason string
	}{
		{"flipped character in the access token", func(app *testApp) {
			// Another base64url character, so the value still decodes
			// and only the seal can refuse it.
			v := []byte(app.cookie(accessTokenCookie))
			if v[len(v)/2] == 'A' {
				v[len(v)/2] = 'B'
			} else {
				v[len(v)/2] = 'A'
			}
			app.setCookie(accessTokenCookie, string(v))
		}, "cookie oidc_access_token was not sealed by this application for this session"},
		{"truncated record", func(app *testApp) {
			v := app.cookie(sessionCookie)
			app.setCookie(sessionCookie, v[:len(v)/2])
		}, "cookie oidc_session"}, // not base64, or not sealed, as the cut falls
		{"record sealed with another key", func(app *testApp) {
			data, err := json.Marshal(app.record())
			require.NoError(app.t, err)
			app.setCookie(sessionCookie, sealValue(app.t, otherKey, sessionCookie, "", string(data)))
		}, "cookie oidc_session was not sealed by this application for this session"},
		{"record moved from the login cookie", func(app *testApp) {
			data, err := json.Marshal(app.record())
			require.NoError(app.t, err)
			app.setCookie(sessionCookie, sealValue(app.t, app.sessions.cookies, loginCookie, "", string(data)))
		}, "cookie oidc_session was not sealed by this application for this session"},
		{"another user's subject", func(app *testApp) {
			s := app.record()
			s.Subject, s.Email = "00000000-0000-0000-0000-000000000001", "admin@example.com"
			app.setRecord(s)
		}, "an invalid access token: access token is for another user than the session"},
		{"a session without its start and last use", func(app *testApp) {
			s := app.record()
			s.StartedAt, s.SeenAt = time.Time{}, time.Time{}
			app.setRecord(s)
		}, "the session started more than"},
		{"garbage", func(app *testApp) {
			app.setCookie(sessionCookie, "%%%not-base64%%%")
			app.setCookie(accessTokenCookie, "")
		}, "decoding cookie oidc_session: illegal base64 data"},
		{"unsealed token in the access token cookie", func(app *testApp) {
			app.setCookie(accessTokenCookie, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
		}, "decoding cookie oidc_access_token: illegal base64 data"},
		{"no access token cookie", func(app *testApp) {
			app.deleteCookie(accessTokenCookie)
		}, "a missing access token, or one of another session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := newTestApp(t, idp)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			tt.tamper(app)
			resp := app.get("/account")
			assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
			assert.Equal(t, "/", resp.Header.Get("Location"))
			assertSessionEndedFor(t, app, tt.reason)
			assert.Equal(t, http.StatusOK, app.get("/").StatusCode, "the home page still works")
		})
	}
}

// TestTokenCookiesOfAnotherSessionAreRefused: the token cookies are sealed
// for the record's session id, so a token cookie sealed for another session,
// or a record that names another session, is logged out before FusionAuth is
// asked anything, even by an instance that has yet to discover it. The
// control seals the same access token for the record's own id.
func TestTokenCookiesOfAnotherSessionAreRefused(t *testing.T) {
	tests := []struct {
		name          string
		tamper        func(app *testApp, accessToken string)
		wantLoggedOut bool
	}{
		{"the control: the access token sealed for this session", func(app *testApp, accessToken string) {
			app.setCookie(accessTokenCookie, sealValue(app.t, app.sessions.cookies, accessTokenCookie, app.record().ID, accessToken))
		}, false},
		{"the access token sealed for another session", func(app *testApp, accessToken string) {
			app.setCookie(accessTokenCookie, sealValue(app.t, app.sessions.cookies, accessTokenCookie, "another-session-id", accessToken))
		}, true},
		{"the access token sealed outside any session", func(app *testApp, accessToken string) {
			app.setCookie(accessTokenCookie, sealValue(app.t, app.sessions.cookies, accessTokenCookie, "", accessToken))
		}, true},
		{"a record naming another session", func(app *testApp, _ string) {
			s := app.record()
			s.ID = "another-session-id"
			app.setRecord(s)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
			app := newTestApp(t, idp)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			accessToken, err := openSealed(app.sessions.cookies, accessTokenCookie, app.record().ID, app.cookie(accessTokenCookie))
			require.NoError(t, err)
			tt.tamper(app, string(accessToken))
			fresh := app.onApp(newTestApp(t, idp))
			idp.ResetRequests()

			resp := fresh.get("/account")
			if !tt.wantLoggedOut {
				assert.Equal(t, http.StatusOK, resp.StatusCode, outline(resp))
				assert.Equal(t, testUserEmail, elementText(resp.body, "email"))
				return
			}
			assertEndedLocally(t, resp, fresh, "oidc_access_token was not sealed by this application for this session")
		})
	}
}

// TestMixedCookieSetNeverShowsTheVictimsPage: a thief logged in with an
// account of their own who swaps some of the victim's cookies into their own
// set (the victim's token cookies beside the thief's record, or the victim's
// record beside the thief's token cookies) holds a mixed set: it is logged
// out before any call to FusionAuth, whoever's access token has expired,
// and the victim's own session carries on. The variants put the thief's
// request right after the victim's refresh, a while after it, and before it.
func TestMixedCookieSetNeverShowsTheVictimsPage(t *testing.T) {
	const thiefEmail, thiefPassword = "thief@example.com", "thief-password"
	timings := []struct {
		name string
		// beforeThief runs once both sessions' access tokens have expired.
		beforeThief func(t *testing.T, idp *fusionauthtest.Server, victim *testApp)
	}{
		{"right after the victim's refresh", func(t *testing.T, _ *fusionauthtest.Server, victim *testApp) {
			require.Equal(t, http.StatusOK, victim.get("/account").StatusCode, "the victim's refresh")
		}},
		{"a while after the victim's refresh", func(t *testing.T, idp *fusionauthtest.Server, victim *testApp) {
			require.Equal(t, http.StatusOK, victim.get("/account").StatusCode, "the victim's refresh")
			idp.Advance(10 * time.Minute)
		}},
		{"before the victim's refresh", func(*testing.T, *fusionauthtest.Server, *testApp) {}},
	}
	mixes := []struct {
		name string
		// victims are the cookies the thief takes from the victim.
		victims []string
	}{
		{"the victim's token cookies", []string{accessTokenCookie, idTokenCookie}},
		{"the victim's record", []string{sessionCookie}},
	}
	for _, timing := range timings {
		for _, mix := range mixes {
			t.Run(timing.name+"/"+mix.name, func(t *testing.T) {
				idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
				registerUser(t, idp, "00000000-0000-4000-8000-0000000007a1", thiefEmail, thiefPassword)
				victim := newTestApp(t, idp)
				require.NoError(t, victim.logInAs(testUserEmail, testUserPassword))
				thief := victim.newBrowser()
				require.NoError(t, thief.logInAs(thiefEmail, thiefPassword))
				require.Equal(t, thiefEmail, elementText(thief.get("/account").body, "email"), "the thief's own session")

				idp.Advance(61 * time.Minute) // Past the kickstart's one-hour access tokens.
				timing.beforeThief(t, idp, victim)
				for _, name := range mix.victims {
					thief.setCookie(name, victim.cookie(name))
				}
				idp.ResetRequests()

				resp := thief.get("/account")
				assert.NotContains(t, resp.body, testUserEmail, "the thief is shown the victim's account: %s", outline(resp))
				// Either way, the token cookies are not sealed for the record's session.
				assertEndedLocally(t, resp, thief, "oidc_access_token was not sealed by this application for this session")
				assertLoggedOut(t, thief)

				victimPage := victim.get("/account")
				assert.Equal(t, http.StatusOK, victimPage.StatusCode, "the victim is still logged in: %s", outline(victimPage))
				assert.Equal(t, testUserEmail, elementText(victimPage.body, "email"), "the victim's own page")
			})
		}
	}
}

// TestIdleSessionEnds: a session unused for longer than the idle timeout
// is refused, although its access token is still valid; one used within it
// is served, and use renews it.
func TestIdleSessionEnds(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newAppWithDefaultLimits(t, idp)
	idle := app.sessions.idleTimeout
	require.Equal(t, 15*time.Minute, idle, "the default idle timeout")
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	// Used every 14 minutes, well past the 15-minute timeout in total.
	for range 3 {
		idp.Advance(idle - time.Minute)
		require.Equal(t, http.StatusOK, app.get("/account").StatusCode, "a session in use lives on")
	}
	idp.Advance(idle + time.Second)
	idp.ResetRequests()
	assertEndedLocally(t, app.get("/account"), app, "the session was idle for more than 15m0s")
	assertLoggedOut(t, app)
}

// TestSessionEndsAtItsMaximumLifetime: a session in constant use, whose
// refresh token FusionAuth would still honour, ends at the absolute
// lifetime from login, without a refresh at FusionAuth.
func TestSessionEndsAtItsMaximumLifetime(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newAppWithDefaultLimits(t, idp)
	maxLifetime := app.sessions.maxLifetime
	require.Equal(t, 8*time.Hour, maxLifetime, "the default maximum lifetime")
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	step := app.sessions.idleTimeout - time.Minute
	var used time.Duration
	for used+step < maxLifetime {
		idp.Advance(step)
		used += step
		require.Equal(t, http.StatusOK, app.get("/account").StatusCode, "after %s", used)
	}
	idp.Advance(maxLifetime - used + time.Second)
	idp.ResetRequests()
	assertEndedLocally(t, app.get("/account"), app, "the session started more than 8h0m0s ago")
}

// TestSessionTimesInTheFutureAreRefused: a session whose login or last use
// lies in the future, beyond the small clock skew allowed, is refused as
// logged out rather than living until the clock catches up: the session's
// limits count from those times, so such a session would outlive them. The
// present times are the control, and times within the skew are accepted.
func TestSessionTimesInTheFutureAreRefused(t *testing.T) {
	tests := []struct {
		name          string
		started, seen time.Duration // from now
		wantLoggedOut bool
	}{
		{"the present (the control)", 0, 0, false},
		{"within the clock skew", clockSkew - time.Second, clockSkew - time.Second, false},
		{"login an hour ahead", time.Hour, 0, true},
		{"last use an hour ahead", 0, time.Hour, true},
		{"last use just beyond the clock skew", 0, clockSkew + time.Second, true},
		{"both a year ahead", 365 * 24 * time.Hour, 365 * 24 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
			app := newAppWithDefaultLimits(t, idp)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			now := idp.Now()
			s := app.record()
			s.StartedAt, s.SeenAt = now.Add(tt.started), now.Add(tt.seen)
			app.setRecord(s)
			idp.ResetRequests()

			resp := app.get("/account")
			if !tt.wantLoggedOut {
				assert.Equal(t, http.StatusOK, resp.StatusCode, outline(resp))
				assert.Equal(t, testUserEmail, elementText(resp.body, "email"))
				return
			}
			assert.NotContains(t, resp.body, testUserEmail, "a session from the future is shown: %s", outline(resp))
			assertEndedLocally(t, resp, app, "the session's times are in the future")
		})
	}
}

// TestSessionUseSetsACookieAtMostOncePerInterval: renewing the last-use
// time does not make every response set a cookie.
func TestSessionUseSetsACookieAtMostOncePerInterval(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newAppWithDefaultLimits(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	resp := app.get("/account")
	assert.Empty(t, resp.Cookies(), "a request right after login sets no cookie")
	idp.Advance(seenInterval - time.Second)
	assert.Empty(t, app.get("/account").Cookies(), "nor one within the interval")
	idp.Advance(2 * time.Second)
	resp = app.get("/account")
	require.Len(t, resp.Cookies(), 1, "past the interval, the last use is renewed")
	assert.Equal(t, sessionCookie, resp.Cookies()[0].Name)
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.WithinDuration(t, idp.Now(), app.record().SeenAt, 5*time.Second, "the record's last use is now")
}

// TestStaleCookiesCannotDriveRefreshes: a cookie set replayed over and over
// without the cookies its refresh set (a copy, or a client that ignores
// Set-Cookie) shares its refresh while the answer is fresh, costs one
// refresh at FusionAuth per instance while the session is within its idle
// timeout, and none once it is idle: the idle timeout is the bound.
func TestStaleCookiesCannotDriveRefreshes(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	// Longer than the access token's hour, so that expired tokens are replayed.
	const idle = 2 * time.Hour
	app := newAppFor(t, idp, idp.URL(), map[string]string{"SESSION_IDLE_TIMEOUT": idle.String(), "SESSION_MAX_LIFETIME": "8h"})
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	idp.Advance(61 * time.Minute)
	stale := app.copyOfCookies()
	idp.ResetRequests()

	const replays = 5
	for range replays {
		replay := stale.copyOfCookies()
		assert.Equal(t, http.StatusOK, replay.get("/account").StatusCode)
	}
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the replays share one refresh")

	idp.Advance(idle - 61*time.Minute - time.Minute) // A minute before the idle timeout.
	idp.ResetRequests()
	another := stale.onApp(newAppFor(t, idp, idp.URL(), map[string]string{"SESSION_IDLE_TIMEOUT": idle.String(), "SESSION_MAX_LIFETIME": "8h"}))
	assert.Equal(t, http.StatusOK, another.get("/account").StatusCode, "within the idle timeout")
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "another instance refreshes for itself")

	idp.Advance(2 * time.Minute)
	idp.ResetRequests()
	for range replays {
		replay := stale.copyOfCookies()
		assertEndedLocally(t, replay.get("/account"), replay, "the session was idle for more than 2h0m0s")
	}
}

// TestReplicasWithOneKeyShareLoginsAndSessions: with one APP_SECRET_KEY, a
// login started on one replica finishes on another, and the session works
// on both. No state lives on a server.
func TestReplicasWithOneKeyShareLoginsAndSessions(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	key := map[string]string{"APP_SECRET_KEY": testSecretKey}
	lb := startReplicas(t, idp, key, key)
	served := recordServed(lb)
	browser := &testApp{t: t, url: lb.url, idp: idp, client: newBrowserClient(t)}

	lb.use(0)
	authorize, err := browser.startLogin()
	require.NoError(t, err)
	callback, err := browser.signIn(authorize, testUserEmail, testUserPassword)
	require.NoError(t, err)
	lb.use(1)
	resp := browser.get(callback)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "the callback on the other replica: %s", resp.body)
	assert.Equal(t, "/account", resp.Header.Get("Location"))
	lb.use(0)
	account := browser.get("/account")
	assert.Equal(t, http.StatusOK, account.StatusCode, account.body)
	assert.Equal(t, testUserEmail, elementText(account.body, "email"))
	lb.use(1)
	change := browser.post("/make-change", url.Values{"amount": {"0.58"}})
	assert.Equal(t, "We can make change for $0.58 with 11 nickels and 3 pennies!", elementText(change.body, "change-result"))

	assert.Equal(t, []string{"0 GET /login", "1 GET /callback", "0 GET /account", "1 POST /make-change"}, served.list())
}

// TestReplicasWithDifferentKeysLogTheUserOutCleanly: a replica with another
// APP_SECRET_KEY cannot open the cookies, so it treats the browser as logged
// out (and deletes the cookies) instead of failing; a login it did not start
// is refused with a clear page, before any token request.
func TestReplicasWithDifferentKeysLogTheUserOutCleanly(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	lb := startReplicas(t, idp, map[string]string{"APP_SECRET_KEY": testSecretKey}, map[string]string{"APP_SECRET_KEY": otherSecretKey})
	browser := &testApp{t: t, url: lb.url, idp: idp, client: newBrowserClient(t)}

	// Logged in on the first replica, the user lands on the second.
	lb.use(0)
	require.NoError(t, browser.logInAs(testUserEmail, testUserPassword))
	require.Equal(t, http.StatusOK, browser.get("/account").StatusCode)
	lb.use(1)
	idp.ResetRequests()
	resp := browser.get("/account")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assertDeletesSession(t, resp.Response)
	assert.Empty(t, idp.Requests(), "cookies it cannot open need no FusionAuth")
	home := browser.get("/")
	assert.Equal(t, http.StatusOK, home.StatusCode, "the home page, logged out")
	assert.Contains(t, home.body, `id="login"`)
	lb.use(0)
	assert.Equal(t, http.StatusSeeOther, browser.get("/account").StatusCode, "the session is gone everywhere")

	// A login started on the first replica cannot finish on the second.
	browser = &testApp{t: t, url: lb.url, idp: idp, client: newBrowserClient(t)}
	lb.use(0)
	callback, err := browser.loginCallback(testUserEmail, testUserPassword)
	require.NoError(t, err)
	lb.use(1)
	idp.ResetRequests()
	resp = browser.get(callback)
	assertErrorPage(t, resp, http.StatusBadRequest)
	assertSetsNoSession(t, resp.Response)
	assert.Zero(t, requestsTo(idp, "/oauth2/token"), "no token request for a login the replica cannot open")

	// The positive control: a login entirely on the second replica works.
	browser = &testApp{t: t, url: lb.url, idp: idp, client: newBrowserClient(t)}
	require.NoError(t, browser.logInAs(testUserEmail, testUserPassword))
	assert.Equal(t, testUserEmail, elementText(browser.get("/account").body, "email"))
}

// TestProtectedPagesWhileFusionAuthIsDown: with a session but no reachable
// FusionAuth to discover, protected pages answer a clear 503 page and keep
// the session's cookies; public pages work.
func TestProtectedPagesWhileFusionAuthIsDown(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	first := newTestApp(t, idp)
	require.NoError(t, first.logInAs(testUserEmail, testUserPassword))

	// The same key, and an issuer nobody answers at: a restart while
	// FusionAuth is down.
	down := first.onApp(newAppFor(t, idp, "http://"+freeAddr(t), nil))
	for _, path := range []string{"/account", "/make-change"} {
		resp := down.get(path)
		assertErrorPage(t, resp, http.StatusServiceUnavailable)
		assertDeletesNoSessionCookie(t, resp.Response)
	}
	assert.Equal(t, http.StatusOK, down.get("/").StatusCode)
	for _, name := range sessionCookies {
		assert.NotEmpty(t, down.cookie(name), "the session survives an outage: cookie %s", name)
	}
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
			assertDeletesNoSessionCookie(t, resp.Response)
			assert.Less(t, time.Since(start), app.oidc.httpClient.Timeout+3*time.Second, "the refresh gives up in time")
			for _, name := range sessionCookies {
				assert.NotEmpty(t, app.cookie(name), "an outage does not end the session: cookie %s", name)
			}
			assert.Equal(t, http.StatusOK, app.get("/").StatusCode, "the home page works during the outage")

			tt.recover(front)
			front.idp.ResetRequests()
			resp = app.get("/account")
			assert.Equal(t, http.StatusOK, resp.StatusCode, "after the outage: %s", resp.body)
			assert.Equal(t, testUserEmail, elementText(resp.body, "email"))
			assert.Equal(t, 1, requestsTo(front.idp, "/oauth2/token"), "one successful refresh after the outage")
		})
	}
}

// FuzzSessionCookies sends /account an arbitrary record and access token:
// raw (so the unsealing itself is fuzzed) or sealed with the app's key (so
// what is inside a cookie that opens is fuzzed: the record's JSON, the
// access token's JWT, and the session id it is sealed for). The answer is
// the account page of the one user whose access token exists, or "logged
// out", nothing else.
func FuzzSessionCookies(f *testing.F) {
	idp := fusionauthtest.NewServer(f, fusionauthtest.Options{})
	// The session's own limits, as configured by default, are fuzzed too.
	app := newAppFor(f, idp, idp.URL(), defaultSessionLimits)
	require.NoError(f, app.logInAs(testUserEmail, testUserPassword))
	handler, sealer := app.handler(), app.sessions.cookies

	login := app.record()
	loginRecord, err := json.Marshal(login)
	require.NoError(f, err)
	loginAccessToken, err := openSealed(sealer, accessTokenCookie, login.ID, app.cookie(accessTokenCookie))
	require.NoError(f, err)
	forged := func(edit func(s *session)) string {
		s := login
		edit(&s)
		data, err := json.Marshal(s)
		require.NoError(f, err)
		return string(data)
	}

	f.Add(string(loginRecord), string(loginAccessToken), login.ID, true, true)
	f.Add(app.cookie(sessionCookie), app.cookie(accessTokenCookie), "", false, false)
	f.Add(string(loginRecord), string(loginAccessToken), "another-session", true, true)
	f.Add(string(loginRecord), "", login.ID, true, false)
	// Forged records: another user with the real access token, times at
	// the edges of what a record holds, a refresh token FusionAuth never
	// issued, and records cut short.
	f.Add(forged(func(s *session) { s.Subject, s.Email = "00000000-0000-0000-0000-000000000001", "admin@example.com" }), string(loginAccessToken), login.ID, true, true)
	f.Add(forged(func(s *session) {
		s.StartedAt, s.SeenAt = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	}), string(loginAccessToken), login.ID, true, true)
	f.Add(forged(func(s *session) { s.RefreshToken = "a-refresh-token" }), "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", login.ID, true, true)
	f.Add(string(loginRecord[:len(loginRecord)/2]), string(loginAccessToken), login.ID, true, true)
	f.Add(`{"id":`, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "", true, true)
	f.Add(string(loginRecord), "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", login.ID, true, true)
	f.Add("%%%not-base64%%%", "AAAA", "", false, false)
	f.Add("", "", "", false, false)

	f.Fuzz(func(t *testing.T, recordValue, accessValue, accessFor string, sealRecord, sealAccess bool) {
		idp.ResetRequests() // The stand-in records every request; keep it small.
		cookie := func(name, sessionID, value string, seal bool) string {
			if seal {
				c, err := sealer.seal(name, sessionID, value, 0)
				if err != nil {
					return "" // Too large for a cookie: the app would never set it.
				}
				value = c.Value
			}
			return name + "=" + value
		}
		cookies := []string{cookie(sessionCookie, "", recordValue, sealRecord), cookie(accessTokenCookie, accessFor, accessValue, sealAccess)}
		req := httptest.NewRequest(http.MethodGet, app.url+"/account", nil)
		req.Header.Set("Cookie", strings.Join(cookies, "; "))
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)

		switch rec.Code {
		case http.StatusOK:
			// Only the real user's access token exists, so only the real
			// user's session may be served.
			record := recordValue
			if !sealRecord {
				record, _ = openSealed(sealer, sessionCookie, "", recordValue)
			}
			var got session
			if !strings.Contains(rec.Body.String(), `id="email"`) || json.Unmarshal([]byte(record), &got) != nil || got.Subject != login.Subject {
				t.Errorf("GET /account with cookies %q = 200 for a session that is not the real user's:\n%s", cookies, rec.Body)
			}
		case http.StatusSeeOther:
			if got := rec.Header().Get("Location"); got != "/" {
				t.Errorf("GET /account redirects to %q, want /", got)
			}
		default:
			t.Errorf("GET /account with cookies %q = %d, want 200 or 303:\n%s", cookies, rec.Code, rec.Body)
		}
	})
}

// Helpers for the session tests (also used by login_cookies_test.go).

// defaultSessionLimits is an environment that leaves the session limits at
// the app's defaults, where newAppFor lifts them to a year.
var defaultSessionLimits = map[string]string{"SESSION_IDLE_TIMEOUT": "", "SESSION_MAX_LIFETIME": ""}

// newAppWithDefaultLimits is newTestApp with the session limits of a
// default configuration.
func newAppWithDefaultLimits(t *testing.T, idp *fusionauthtest.Server) *testApp {
	t.Helper()
	return newAppFor(t, idp, idp.URL(), defaultSessionLimits)
}

// assertEndedLocally checks that the browser's session was refused, for
// reason, without asking FusionAuth anything, and its cookies deleted.
func assertEndedLocally(t *testing.T, resp response, browser *testApp, reason string) {
	t.Helper()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, outline(resp))
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assertDeletesSession(t, resp.Response)
	assertSetsNoSession(t, resp.Response)
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assertSessionEndedFor(t, browser, reason)
	assert.Empty(t, browser.idp.Requests(), "the refusal needs no FusionAuth")
}

// Logging in: the quickstart's whole promise over HTTP, the login the app
// starts (state, nonce, PKCE) and the callbacks it refuses. Like the OpenID
// Foundation's relying-party tests, a misbehaving FusionAuth (or network in
// front of it) is played one case at a time, and every refusal is checked
// the same way (testLoginRefusals): no session is stored, /account still
// refuses, FusionAuth is asked nothing further, and a positive control logs
// in. The checks of the tokens are login_verify_test.go's.

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoginAccountMakeChangeLogout walks the quickstart's whole promise over
// HTTP against the FusionAuth stand-in: log in, see the account, make change,
// log out, and be logged out.
func TestLoginAccountMakeChangeLogout(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)

	// The login request carries everything a confidential client must send.
	authorize, err := app.startLogin()
	require.NoError(t, err)
	q := authorize.Query()
	assert.Equal(t, idp.URL()+"/oauth2/authorize", authorize.Scheme+"://"+authorize.Host+authorize.Path)
	assert.Equal(t, testClientID, q.Get("client_id"))
	assert.Equal(t, "code", q.Get("response_type"))
	assert.Equal(t, app.url+"/callback", q.Get("redirect_uri"))
	assert.Equal(t, "openid email profile offline_access", q.Get("scope"))
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.NotEmpty(t, q.Get("code_challenge"))
	assert.GreaterOrEqual(t, len(q.Get("state")), 26, "state must carry at least 128 bits")
	assert.GreaterOrEqual(t, len(q.Get("nonce")), 26, "nonce must carry at least 128 bits")
	assert.NotEqual(t, q.Get("state"), q.Get("nonce"))
	assert.NotEmpty(t, app.cookie(loginCookie), "the login transaction cookie")

	callback, err := app.signIn(authorize, testUserEmail, testUserPassword)

	require.NoError(t, err)
	resp := app.get(callback)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "GET /callback: %s", resp.body)
	assert.Equal(t, "/account", resp.Header.Get("Location"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Empty(t, app.cookie(loginCookie), "the login cookie is deleted on first use")
	for _, name := range sessionCookies {
		assert.NotEmpty(t, app.cookie(name), "cookie %s after login", name)
	}
	for _, c := range resp.Cookies() {
		assert.True(t, c.HttpOnly, "cookie %s is HttpOnly", c.Name)
		assert.Equal(t, http.SameSiteLaxMode, c.SameSite, "cookie %s is SameSite=Lax", c.Name)
		assert.Equal(t, "/", c.Path, "cookie %s has Path=/", c.Name)
		assert.Less(t, len(c.String()), 4096, "cookie %s fits a browser", c.Name)
	}
	// The cookies are sealed: no token can be read from them.
	accessToken, err := openSealed(app.sessions.cookies, accessTokenCookie, app.record().ID, app.cookie(accessTokenCookie))
	require.NoError(t, err)
	assert.NotContains(t, app.cookie(accessTokenCookie), string(accessToken[:32]), "the access token cookie is sealed: the token is not in it")
	tokenCalls := requestsTo(idp, "/oauth2/token")
	assert.Equal(t, 1, tokenCalls, "one token request per login")
	for _, r := range idp.Requests() {
		if r.Path == "/oauth2/token" {
			assert.True(t, strings.HasPrefix(r.Header.Get("Authorization"), "Basic "), "client authenticates with Basic")
			assert.NotEmpty(t, r.Form.Get("code_verifier"), "the code is exchanged with the PKCE verifier")
			assert.Empty(t, r.Form.Get("client_secret"), "the secret is not in the body")
		}
	}

	account := app.get("/account")
	require.Equal(t, http.StatusOK, account.StatusCode)
	assert.Equal(t, testUserEmail, elementText(account.body, "email"))
	assert.Equal(t, "$0.00", elementText(account.body, "balance"))
	assert.Contains(t, account.body, `id="make-change-link"`)
	assert.Contains(t, account.body, `id="logout"`)
	assert.Equal(t, "no-store", account.Header.Get("Cache-Control"))

	// Logged-in requests are verified locally: no call to FusionAuth.
	idp.ResetRequests()
	assert.Equal(t, http.StatusSeeOther, app.get("/").StatusCode, "home sends a logged-in user to the account")
	change := app.post("/make-change", url.Values{"amount": {"0.29"}})
	require.Equal(t, http.StatusOK, change.StatusCode, change.body)
	assert.Equal(t, "We can make change for $0.29 with 5 nickels and 4 pennies!", elementText(change.body, "change-result"))
	assert.Empty(t, idp.Requests(), "protected pages made no request to FusionAuth")

	// Logout: the app forgets the session and sends the browser to FusionAuth.
	logout := app.post("/logout", nil)
	require.Equal(t, http.StatusSeeOther, logout.StatusCode, logout.body)
	endSession, err := url.Parse(logout.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, idp.URL()+"/oauth2/logout", endSession.Scheme+"://"+endSession.Host+endSession.Path)
	assert.Equal(t, testClientID, endSession.Query().Get("client_id"))
	assert.Equal(t, app.url+"/logout", endSession.Query().Get("post_logout_redirect_uri"))
	assert.NotEmpty(t, endSession.Query().Get("id_token_hint"))
	assert.NotEmpty(t, endSession.Query().Get("state"))
	for _, name := range sessionCookies {
		assert.Empty(t, app.cookie(name), "cookie %s after logout", name)
	}

	// FusionAuth's logging-out page loads the app's logout URL and then
	// redirects to the post_logout_redirect_uri.
	loggingOut := app.get(endSession.String())
	require.Contains(t, []int{http.StatusOK, http.StatusFound}, loggingOut.StatusCode, loggingOut.body)
	assert.Contains(t, loggingOut.body+loggingOut.Header.Get("Location"), app.url+"/logout")
	landing := app.get(app.url + "/logout?state=" + url.QueryEscape(endSession.Query().Get("state")))
	assert.Equal(t, http.StatusSeeOther, landing.StatusCode)
	assert.Equal(t, "/", landing.Header.Get("Location"))

	assert.Equal(t, "/", app.get("/account").Header.Get("Location"), "after logout /account sends the user home")
	// FusionAuth's SSO session is over too: the next login asks for a password.
	authorize, err = app.startLogin()
	require.NoError(t, err)
	assert.Contains(t, app.get(authorize.String()).body, "loginId")
}

// TestCallbackRefusesMisbehavingFusionAuth: a redirect back from FusionAuth
// that is not the answer to this browser's login (another state, another
// issuer, an error) is refused before any token request, and a token
// endpoint that answers with an error, or not at all, ends the login with a
// clear page. The checks of the tokens themselves are
// TestCallbackRefusesTokensThatFailACheck's.
func TestCallbackRefusesMisbehavingFusionAuth(t *testing.T) {
	t.Parallel() // It waits for timeouts; let other tests run meanwhile.
	testLoginRefusals(t, []loginRefusal{
		{fault: fusionauthtest.FaultTokenResponseError, status: http.StatusBadGateway,
			reason: `oauth2: "server_error"`},
		{fault: fusionauthtest.FaultTokenEndpointHangs, status: http.StatusBadGateway,
			reason: `/oauth2/token": context deadline exceeded (Client.Timeout exceeded`},
		{fault: fusionauthtest.FaultCallbackAlteredState, status: http.StatusBadRequest,
			reason: "no login of this browser has this state"},
		{fault: fusionauthtest.FaultCallbackWrongIssuer, status: http.StatusBadRequest,
			reason: `iss "https://evil.example.com"`},
		// The error itself is read (the redirect names its issuer, as
		// FusionAuth's do): its description, markup and all, is shown as text.
		{fault: fusionauthtest.FaultCallbackError, status: http.StatusBadRequest, reason: "access_denied",
			shows: "access_denied &lt;script&gt;alert(&#34;error_description&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;"},
	})
}

// loginRefusal is a login against a FusionAuth with one fault, which the
// callback must refuse.
type loginRefusal struct {
	fault fusionauthtest.Fault
	// status is the callback's answer: 400 when the redirect itself is
	// wrong (refused before any token request), 502 when FusionAuth's
	// tokens are.
	status int
	// reason is in the error the app logs for the refusal, with {issuer}
	// standing for the stand-in's URL: each row names the check that must
	// refuse it, so that a timeout, or another check, fails the row.
	reason string
	// edit, if set, changes the callback's query before the browser
	// delivers it.
	edit func(idp *fusionauthtest.Server, query url.Values)
	// shows, if set, is in the error page's HTML.
	shows string
}

// testLoginRefusals runs one login per misbehaviour of the identity
// provider, as the OpenID Foundation's relying-party tests do, and checks
// every refusal the same way: the app logs the row's reason, no session is
// stored, /account still refuses, and FusionAuth is asked nothing further
// (no token request after a refused redirect, none after the code exchange,
// no userinfo). A positive control logs in with the same steps against a
// correct FusionAuth, so the rows cannot pass by refusing everything.
func testLoginRefusals(t *testing.T, rows []loginRefusal) {
	t.Helper()
	for _, tt := range rows {
		t.Run(tt.fault.String(), func(t *testing.T) {
			idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
			app := newTestApp(t, idp)
			idp.InjectFault(tt.fault)

			callback, err := app.loginCallback(testUserEmail, testUserPassword)

			require.NoError(t, err)
			if tt.edit != nil {
				u, err := url.Parse(callback)
				require.NoError(t, err)
				query := u.Query()
				tt.edit(idp, query)
				u.RawQuery = query.Encode()
				callback = u.String()
			}
			resp := app.get(callback)
			assertErrorPage(t, resp, tt.status)
			for _, markup := range []string{"<script", "<b>"} {
				assert.NotContains(t, resp.body, markup, "markup from FusionAuth is escaped")
			}
			assert.Contains(t, resp.body, tt.shows, "the error page")
			assertLoginRefusedFor(t, app, strings.ReplaceAll(tt.reason, "{issuer}", idp.URL()))
			assertSetsNoSession(t, resp.Response)
			assertLoggedOut(t, app)

			wantTokenCalls := 1
			if tt.status == http.StatusBadRequest {
				wantTokenCalls = 0
			}
			assert.Equal(t, wantTokenCalls, requestsTo(idp, "/oauth2/token"), "token requests")
			assert.Zero(t, requestsTo(idp, "/oauth2/userinfo"), "userinfo requests")
		})
	}

	t.Run("NoFault", func(t *testing.T) {
		idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
		app := newTestApp(t, idp)
		require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
		assert.Equal(t, testUserEmail, elementText(app.get("/account").body, "email"))
		assert.Empty(t, app.logs.values("refusing a login", "err"), "refused logins")
	})
}

// TestCallbackRefusesForeignCallbacksBeforeAnyTokenRequest: a callback the
// browser did not start is refused before the code is spent, so the browser
// that did start the login can still finish it.
func TestCallbackRefusesForeignCallbacksBeforeAnyTokenRequest(t *testing.T) {
	otherKey, err := newCookieSealer([][]byte{[]byte("another-secret-key-of-32-characters-or-more")}, false)
	require.NoError(t, err)

	tests := []struct {
		name string
		// deliver sends the victim's callback URL to the app from an
		// attacker's browser, however the case wants it.
		deliver func(t *testing.T, attacker *testApp, callback string) response
	}{
		{"unsolicited, in a browser that started no login", func(t *testing.T, attacker *testApp, callback string) response {
			return attacker.get(callback)
		}},
		{"in a browser with its own login in progress", func(t *testing.T, attacker *testApp, callback string) response {
			_, err := attacker.startLogin() // Login CSRF: the state differs from this browser's.
			require.NoError(t, err)
			return attacker.get(callback)
		}},
		{"without its state", func(t *testing.T, attacker *testApp, callback string) response {
			_, err := attacker.startLogin()
			require.NoError(t, err)
			u, err := url.Parse(callback)
			require.NoError(t, err)
			q := u.Query()
			q.Del("state")
			u.RawQuery = q.Encode()
			return attacker.get(u.String())
		}},
		{"with a login cookie sealed by another key", func(t *testing.T, attacker *testApp, callback string) response {
			u, err := url.Parse(callback)
			require.NoError(t, err)
			pending, err := json.Marshal([]loginTransaction{{
				State: u.Query().Get("state"), Nonce: "n", Verifier: "v",
				ExpiresAt: time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC),
			}})
			require.NoError(t, err)
			forged, err := otherKey.seal(loginCookie, "", string(pending), loginLifetime)
			require.NoError(t, err)
			attacker.setCookie(loginCookie, forged.Value)
			return attacker.get(callback)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
			victim := newTestApp(t, idp)
			callback, err := victim.loginCallback(testUserEmail, testUserPassword)
			require.NoError(t, err)
			attacker := victim.newBrowser()
			idp.ResetRequests()

			resp := tt.deliver(t, attacker, callback)
			assertErrorPage(t, resp, http.StatusBadRequest)
			// Each way, this browser holds no login with the callback's state.
			assertLoginRefusedFor(t, attacker, "no login of this browser has this state")
			assertSetsNoSession(t, resp.Response)
			assertLoggedOut(t, attacker)
			assert.Zero(t, requestsTo(idp, "/oauth2/token"), "token requests for a foreign callback")
			assert.Zero(t, requestsTo(idp, "/oauth2/userinfo"), "userinfo requests")

			// The positive control: the code was not spent, and the browser
			// that started the login finishes it.
			victim.get(callback)
			assert.Equal(t, testUserEmail, elementText(victim.get("/account").body, "email"))
		})
	}
}

// TestCallbackRefusesAReplayedCallback: the login cookie is deleted on
// first use, so the code and state of a finished login, delivered again by
// the same browser, are refused without a token request, before the user
// logs out and after. Delivered with a copy of the login cookie, they cost
// one token request, which FusionAuth refuses: its codes are single use.
func TestCallbackRefusesAReplayedCallback(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	authorize, err := app.startLogin()
	require.NoError(t, err)
	loginCookieValue := app.cookie(loginCookie)
	callback, err := app.signIn(authorize, testUserEmail, testUserPassword)
	require.NoError(t, err)
	require.Equal(t, http.StatusSeeOther, app.get(callback).StatusCode)

	// A fresh browser replays both the callback and the login cookie it had,
	// as someone who copied them both would.
	replayer := app.newBrowser()
	replayer.setCookie(loginCookie, loginCookieValue)
	idp.ResetRequests()
	resp := app.get(callback)
	assertErrorPage(t, resp, http.StatusBadRequest)
	assertLoginRefusedFor(t, app, "no login of this browser has this state")
	assertSetsNoSession(t, resp.Response)
	assert.Zero(t, requestsTo(idp, "/oauth2/token"), "no token request for the replay in the same browser")
	assert.Equal(t, http.StatusOK, app.get("/account").StatusCode, "the replay does not end the real session")

	resp = replayer.get(callback)
	// The copied cookie still opens and matches, so the app spends the code;
	// FusionAuth's single-use codes are the last line here.
	assertErrorPage(t, resp, http.StatusBadGateway)
	assertLoginRefusedFor(t, replayer, `oauth2: "invalid_request" "Invalid Authorization Code"`)
	assertSetsNoSession(t, resp.Response)
	assertLoggedOut(t, replayer)
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "only the copied cookie's token request")
	assert.Zero(t, requestsTo(idp, "/oauth2/userinfo"))

	// After logout, the same browser's replay is refused just the same.
	require.Equal(t, http.StatusSeeOther, app.post("/logout", nil).StatusCode, "the logout")
	idp.ResetRequests()
	resp = app.get(callback)
	assertErrorPage(t, resp, http.StatusBadRequest)
	assertLoginRefusedFor(t, app, "no login of this browser has this state")
	assertSetsNoSession(t, resp.Response)
	assert.Zero(t, requestsTo(idp, "/oauth2/token"), "no token request for the replay after logout")
	assertLoggedOut(t, app)
}

// TestCallbackRefusesExpiredLogin: a login left for more than ten minutes
// at FusionAuth is refused before any token request.
func TestCallbackRefusesExpiredLogin(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	callback, err := app.loginCallback(testUserEmail, testUserPassword)
	require.NoError(t, err)
	idp.Advance(loginLifetime + time.Second)
	idp.ResetRequests()
	resp := app.get(callback)
	assertErrorPage(t, resp, http.StatusBadRequest)
	assertLoginRefusedFor(t, app, "no login of this browser has this state") // it expired
	assert.Zero(t, requestsTo(idp, "/oauth2/token"))
	assertLoggedOut(t, app)
}

// TestCallbackChecksIssBeforeItsError: an error response that names
// another issuer is refused as a mix-up (RFC 9207), before the app shows
// anything of the error it carries.
func TestCallbackChecksIssBeforeItsError(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	authorize, err := app.startLogin()
	require.NoError(t, err)
	q := url.Values{
		"state":             {authorize.Query().Get("state")},
		"iss":               {"https://attacker.example"},
		"error":             {"access_denied"},
		"error_description": {"Call +1 555 0100 to unlock your account"},
	}
	resp := app.get("/callback?" + q.Encode())
	assertErrorPage(t, resp, http.StatusBadRequest)
	assert.Contains(t, resp.body, "unexpected identity provider")
	assert.NotContains(t, resp.body, "555 0100", "nothing of the foreign error is shown")
}

// TestCallbackWithoutIssIsRefused: FusionAuth announces that its
// authorization responses name it (RFC 9207), so a code without iss is
// refused before it is sent to the token endpoint, and with iss the same
// login completes.
func TestCallbackWithoutIssIsRefused(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	callbackURL, err := app.loginCallback(testUserEmail, testUserPassword)
	require.NoError(t, err)
	callback, err := url.Parse(callbackURL)
	require.NoError(t, err)
	query := callback.Query()
	require.Equal(t, idp.URL(), query.Get("iss"), "the stand-in names itself, as FusionAuth does")
	withoutIss := *callback
	query.Del("iss")
	withoutIss.RawQuery = query.Encode()
	loginCookieValue := app.cookie(loginCookie)
	idp.ResetRequests()

	resp := app.get(withoutIss.String())
	assertErrorPage(t, resp, http.StatusBadRequest)
	assertLoginRefusedFor(t, app, `iss ""`)
	assertSetsNoSession(t, resp.Response)
	assert.Zero(t, requestsTo(idp, "/oauth2/token"), "token requests for a code without iss")
	assertLoggedOut(t, app)

	// The positive control: the same login, with iss, completes.
	app.setCookie(loginCookie, loginCookieValue)
	resp = app.get(callback.String())
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
	assert.Equal(t, testUserEmail, elementText(app.get("/account").body, "email"))
}

// TestCallbackGivesUpOnAHangingTokenEndpoint: the token request has a
// timeout, is sent once, and the user gets a clear page.
func TestCallbackGivesUpOnAHangingTokenEndpoint(t *testing.T) {
	t.Parallel() // It waits for timeouts; let other tests run meanwhile.
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	timeout := app.oidc.httpClient.Timeout
	callback, err := app.loginCallback(testUserEmail, testUserPassword)
	require.NoError(t, err)
	idp.InjectFault(fusionauthtest.FaultTokenEndpointHangs)
	idp.ResetRequests()

	start := time.Now()
	resp := app.get(callback)
	took := time.Since(start)
	assertErrorPage(t, resp, http.StatusBadGateway)
	assertLoginRefusedFor(t, app, "Client.Timeout exceeded")
	assertSetsNoSession(t, resp.Response)
	assert.GreaterOrEqual(t, took, timeout, "the app waits for its timeout")
	assert.Less(t, took, timeout+3*time.Second, "and not much longer")
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the code is sent once, never retried another way")
	assertLoggedOut(t, app)
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "no token request after the refusal")
}

// TestCallbackWhileFusionAuthIsUnreachable: a callback that reaches an
// instance which has not discovered FusionAuth (it restarted) while
// FusionAuth is down gets a 503 page, not a 500, and no session; the login
// it finished is used up, and a new one works once FusionAuth is back.
func TestCallbackWhileFusionAuthIsUnreachable(t *testing.T) {
	front := newIDPFront(t)
	first := front.newApp(t)
	callbackURL, err := first.loginCallback(testUserEmail, testUserPassword)
	require.NoError(t, err)
	callback, err := url.Parse(callbackURL)
	require.NoError(t, err)
	restarted := front.newApp(t)
	browser := first.onApp(restarted)
	front.down()
	front.idp.ResetRequests()

	resp := browser.get(restarted.url + "/callback?" + callback.RawQuery)
	assertErrorPage(t, resp, http.StatusServiceUnavailable)
	assertLoginRefusedFor(t, browser, "FusionAuth is not available")
	assertSetsNoSession(t, resp.Response)
	assertLoggedOut(t, browser)
	assert.Zero(t, requestsTo(front.idp, "/oauth2/token"), "token requests")

	// The positive control: once FusionAuth is back, the user logs in again.
	front.up()
	require.NoError(t, browser.logInAs(testUserEmail, testUserPassword))
	assert.Equal(t, testUserEmail, elementText(browser.get("/account").body, "email"))
}

// TestLoginWithoutRefreshTokenEndsWithItsAccessToken: a login whose answer
// brings no refresh token starts a session without one, even in a browser
// that still holds an earlier login's session with a refresh token: each
// login writes a new record, never one merged with the earlier, so the
// earlier login's refresh token goes with its record. The session then ends
// when its access token expires, without a refresh.
func TestLoginWithoutRefreshTokenEndsWithItsAccessToken(t *testing.T) {
	front := newIDPFront(t)
	browser := front.newApp(t)
	require.NoError(t, browser.logInAs(testUserEmail, testUserPassword))
	earlier := browser.record()
	require.NotEmpty(t, earlier.RefreshToken, "the earlier login's refresh token")

	front.setTokenRewrite(func(grant string, body map[string]any) { delete(body, "refresh_token") })
	require.NoError(t, browser.logInAs(testUserEmail, testUserPassword))
	record := browser.record()
	assert.NotEqual(t, earlier.ID, record.ID, "the login started a new session")
	assert.Empty(t, record.RefreshToken, "the new session has no refresh token")
	assert.Equal(t, http.StatusOK, browser.get("/account").StatusCode)

	front.idp.Advance(61 * time.Minute) // Past the kickstart's one-hour access tokens.
	front.idp.ResetRequests()
	resp := browser.get("/account")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assert.Zero(t, requestsTo(front.idp, "/oauth2/token"), "no refresh with another login's refresh token")
	assertLoggedOut(t, browser)
}

// TestTwoTabsLoggingInAtOnce: one browser starts a login in two tabs, and
// the tabs finish in the opposite order. Both land on the account page: the
// second start does not discard the first one's state, nonce and verifier,
// and the first callback does not discard the second's.
func TestTwoTabsLoggingInAtOnce(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	first, err := app.startLogin()
	require.NoError(t, err)
	second, err := app.startLogin()
	require.NoError(t, err)

	// FusionAuth's form in each tab, without its SSO cookie from the other.
	secondCallback, err := app.newBrowser().signIn(second, testUserEmail, testUserPassword)
	require.NoError(t, err)
	firstCallback, err := app.newBrowser().signIn(first, testUserEmail, testUserPassword)
	require.NoError(t, err)
	for _, callback := range []string{secondCallback, firstCallback} {
		resp := app.get(callback)
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
		assert.Equal(t, "/account", resp.Header.Get("Location"))
	}
	assert.Empty(t, app.cookie(loginCookie), "no login is left pending")
	assert.Equal(t, http.StatusOK, app.get("/account").StatusCode)
}

// TestConcurrentLoginFlowsAllSucceed starts many complete logins at once,
// each in its own browser (an HTTP client with its own cookie jar): /login,
// FusionAuth's login form, the callback, /account. Every one must end on the
// account page; the test reports the rate. The app and the FusionAuth
// stand-in run in this process, so the rate is shared between them.
//
// CHANGEBANK_LOGIN_FLOWS (default 200) sets the number of flows:
//
//	CHANGEBANK_LOGIN_FLOWS=1000 go test ./complete-application -run TestConcurrentLoginFlowsAllSucceed -v
func TestConcurrentLoginFlowsAllSucceed(t *testing.T) {
	flows := 200
	if n, err := strconv.Atoi(os.Getenv("CHANGEBANK_LOGIN_FLOWS")); err == nil && n > 0 {
		flows = n
	}
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	// The production timeout: the test helpers shorten it for fault tests,
	// and a thousand logins queue longer than that for FusionAuth's tokens.
	app.oidc.httpClient.Timeout = upstreamTimeout
	transport := &http.Transport{MaxIdleConnsPerHost: flows, MaxIdleConns: 2 * flows}
	t.Cleanup(transport.CloseIdleConnections)
	browsers := make([]*testApp, flows)
	for i := range browsers {
		browsers[i] = app.newBrowser()
		browsers[i].client.Transport = transport
		browsers[i].client.Timeout = 30 * time.Second
	}

	durations := make([]time.Duration, flows)
	errs := make([]error, flows)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, browser := range browsers {
		wg.Go(func() {
			<-start
			began := time.Now()
			errs[i] = logInAndOpenAccount(browser)
			durations[i] = time.Since(began)
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(began)

	failed := slices.DeleteFunc(slices.Clone(errs), func(err error) bool { return err == nil })
	slices.Sort(durations)
	t.Logf("%d concurrent login flows in %s: %.0f logins/s, %d errors; per flow p50 %s, p99 %s, max %s",
		flows, elapsed.Round(time.Millisecond), float64(flows)/elapsed.Seconds(), len(failed),
		durations[flows/2].Round(time.Millisecond), durations[flows*99/100].Round(time.Millisecond),
		durations[flows-1].Round(time.Millisecond))
	assert.Empty(t, failed, "failed login flows")
	assert.Equal(t, flows, requestsTo(idp, "/oauth2/token"), "one token request per login")
}

// logInAndOpenAccount logs the kickstart's user in and opens the account
// page, returning what went wrong: it runs in a goroutine.
func logInAndOpenAccount(browser *testApp) error {
	if err := browser.logInAs(testUserEmail, testUserPassword); err != nil {
		return err
	}
	account, err := browser.fetch("/account")
	if err != nil {
		return err
	}
	if err := wantStatus(account, http.StatusOK); err != nil {
		return err
	}
	if got := elementText(account.body, "email"); got != testUserEmail {
		return fmt.Errorf("GET /account: email %q, want %q", got, testUserEmail)
	}
	return nil
}

// FuzzCallbackQuery sends /callback arbitrary query strings, with or without
// this browser's login cookie and its state. Without a code FusionAuth
// issued, no callback may start a session; every answer is a clear page.
// `go test` runs the seeds; scripts/fuzz.sh fuzzes it for a minute.
func FuzzCallbackQuery(f *testing.F) {
	idp := fusionauthtest.NewServer(f, fusionauthtest.Options{})
	app := newTestApp(f, idp)
	authorize, err := app.startLogin()
	require.NoError(f, err)
	state := authorize.Query().Get("state")
	loginCookieValue := app.cookie(loginCookie)
	handler := app.handler()

	for _, seed := range []string{
		"",
		"code=abc",
		"code=abc&iss=" + url.QueryEscape(idp.URL()),
		"code=abc&iss=https%3A%2F%2Fevil.example.com",
		"error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
		"error=access_denied&iss=" + url.QueryEscape(idp.URL()) + "&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
		"error=" + strings.Repeat("%E2%82%AC", 200),
		"code=a&code=b&state=x",
		"state=&code=",
		"code=%zz&state=%",
		"code=abc;iss=x",
		"iss=&error=",
	} {
		f.Add(seed, true, true)
		f.Add(seed, true, false)
		f.Add(seed, false, true)
	}

	f.Fuzz(func(t *testing.T, query string, withLoginCookie, withState bool) {
		idp.ResetRequests() // The stand-in records every request; keep it small.
		req := httptest.NewRequest(http.MethodGet, app.url+"/callback", nil)
		req.URL.RawQuery = query
		if withState {
			req.URL.RawQuery = "state=" + url.QueryEscape(state) + "&" + query
		}
		if withLoginCookie {
			req.Header.Set("Cookie", loginCookie+"="+loginCookieValue)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)

		// 400 for a callback refused on sight, 502 when FusionAuth refuses the code.
		if rec.Code != http.StatusBadRequest && rec.Code != http.StatusBadGateway {
			t.Errorf("GET /callback?%s = %d, want 400 or 502:\n%s", req.URL.RawQuery, rec.Code, rec.Body)
		}
		if elementText(rec.Body.String(), "error") == "" {
			t.Errorf("GET /callback?%s: no #error message:\n%s", req.URL.RawQuery, rec.Body)
		}
		if strings.Contains(rec.Body.String(), "<script") {
			t.Errorf("GET /callback?%s: markup from the query reached the page:\n%s", req.URL.RawQuery, rec.Body)
		}
		for _, c := range rec.Result().Cookies() {
			if c.Value != "" && c.MaxAge >= 0 {
				t.Errorf("GET /callback?%s sets cookie %s", req.URL.RawQuery, c.Name)
			}
		}
	})
}

// TestABrowserKeepsItsNewestPendingLogins: a browser that starts more logins
// than maxPendingLogins keeps the newest ones, so its login cookie stays
// small: the newest login completes, and the oldest's callback is refused.
func TestABrowserKeepsItsNewestPendingLogins(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	var authorizes []*url.URL
	for range maxPendingLogins + 1 {
		authorize, err := app.startLogin()
		require.NoError(t, err)
		authorizes = append(authorizes, authorize)
	}
	newest, err := app.signIn(authorizes[len(authorizes)-1], testUserEmail, testUserPassword)
	require.NoError(t, err)
	oldest, err := app.signIn(authorizes[0], testUserEmail, testUserPassword)
	require.NoError(t, err)

	resp := app.get(newest)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "the newest login: %s", outline(resp))
	assert.Equal(t, "/account", resp.Header.Get("Location"))
	assertErrorPage(t, app.get(oldest), http.StatusBadRequest)
}

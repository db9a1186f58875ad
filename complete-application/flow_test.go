package main

import (
	"net/http"
	"net/url"
	"strings"
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
	assert.NotEmpty(t, app.cookie("cb_login"), "the login transaction cookie")

	callback, err := app.signIn(authorize, testUserEmail, testUserPassword)

	require.NoError(t, err)
	resp := app.get(callback)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "GET /callback: %s", resp.body)
	assert.Equal(t, "/account", resp.Header.Get("Location"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Empty(t, app.cookie("cb_login"), "the login cookie is deleted on first use")
	for _, name := range []string{"cb_access_token", "cb_refresh_token", "cb_id_token", "cb_user"} {
		assert.NotEmpty(t, app.cookie(name), "cookie %s after login", name)
	}
	for _, c := range resp.Cookies() {
		assert.True(t, c.HttpOnly, "cookie %s is HttpOnly", c.Name)
		assert.Equal(t, http.SameSiteLaxMode, c.SameSite, "cookie %s is SameSite=Lax", c.Name)
		assert.Equal(t, "/", c.Path, "cookie %s has Path=/", c.Name)
		assert.Less(t, len(c.String()), 4096, "cookie %s fits a browser", c.Name)
	}
	// The cookies are sealed: no token can be read from them.
	assert.NotContains(t, app.cookie("cb_access_token"), "eyJ", "the access token cookie is sealed")
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
	for _, name := range []string{"cb_access_token", "cb_refresh_token", "cb_id_token", "cb_user"} {
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

// TestRefreshesExpiredAccessToken lets the access token expire and checks the
// next page refreshes it transparently, verifying the new tokens.
func TestRefreshesExpiredAccessToken(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	oldAccessToken := app.cookie("cb_access_token")

	idp.Advance(61 * time.Minute)
	idp.ResetRequests()
	account := app.get("/account")
	require.Equal(t, http.StatusOK, account.StatusCode, account.body)
	assert.Equal(t, testUserEmail, elementText(account.body, "email"))
	assert.NotEqual(t, oldAccessToken, app.cookie("cb_access_token"), "the access token cookie was replaced")
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "one refresh")

	// The refreshed session is good without further calls.
	idp.ResetRequests()
	assert.Equal(t, http.StatusOK, app.get("/account").StatusCode)
	assert.Empty(t, idp.Requests())
}

// TestExpiredRefreshTokenEndsSession: when FusionAuth refuses the refresh
// token (invalid_grant), the user is logged out.
func TestExpiredRefreshTokenEndsSession(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	idp.Advance(31 * 24 * time.Hour) // Past the kickstart's 30-day refresh token lifetime.
	idp.ResetRequests()
	resp := app.getAfterRetry("/account")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the refresh FusionAuth refused")
	for _, name := range []string{"cb_access_token", "cb_refresh_token", "cb_id_token", "cb_user"} {
		assert.Empty(t, app.cookie(name), "cookie %s after a refused refresh", name)
	}
}

// TestLoginAfterKeyRotation: tokens signed by a new key are accepted after
// one fetch of FusionAuth's key set.
func TestLoginAfterKeyRotation(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	require.Equal(t, http.StatusOK, app.get("/account").StatusCode)

	_, err := idp.RotateKey()
	require.NoError(t, err)
	// The key set may be fetched again only a while after the last fetch.
	idp.Advance(keyRefetchInterval)
	idp.ResetRequests()
	// A second user, in a fresh browser, logs in after the rotation.
	fresh := &testApp{t: t, url: app.url, idp: idp, auth: app.auth, client: newBrowserClient(t)}
	require.NoError(t, fresh.logInAs(testUserEmail, testUserPassword))
	assert.Equal(t, http.StatusOK, fresh.get("/account").StatusCode)
	assert.Equal(t, 1, requestsTo(idp, "/.well-known/jwks.json"), "one key set fetch after rotation")
	// The first user's tokens, signed by the old key, still verify.
	assert.Equal(t, http.StatusOK, app.get("/account").StatusCode)
}

// TestLoginWorksOnceFusionAuthStarts: the app starts and serves public pages
// while FusionAuth is down, answers login with a 503 page, and logs in
// without a restart once FusionAuth is up.
func TestLoginWorksOnceFusionAuthStarts(t *testing.T) {
	addr := freeAddr(t)
	issuer := "http://" + addr

	srv, auth := newAppWithIssuer(t, issuer)
	client := newBrowserClient(t)
	get := func(path string) *http.Response {
		resp, err := client.Get(srv.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	assert.Equal(t, http.StatusOK, get("/").StatusCode)
	assert.Equal(t, http.StatusServiceUnavailable, get("/login").StatusCode)
	assert.Equal(t, http.StatusOK, get("/static/changebank.css").StatusCode)

	idp, err := fusionauthtest.Start(addr, fusionauthtest.Options{Issuer: issuer})
	require.NoError(t, err)
	t.Cleanup(idp.Close)
	auth.now = idp.Now
	registerRedirectURLs(t, idp, srv.URL)

	app := &testApp{t: t, url: srv.URL, idp: idp, auth: auth, client: client}
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	assert.Equal(t, testUserEmail, elementText(app.get("/account").body, "email"))
}

// TestLoginWithoutRefreshTokenEndsWithItsAccessToken: a login that brings no
// refresh token deletes any the browser still holds from an earlier login,
// so the new session ends when its access token expires instead of being
// renewed with the earlier login's refresh token.
func TestLoginWithoutRefreshTokenEndsWithItsAccessToken(t *testing.T) {
	front := newIDPFront(t)
	earlier := front.newApp(t)
	require.NoError(t, earlier.logInAs(testUserEmail, testUserPassword))
	require.NotEmpty(t, earlier.cookie(refreshTokenCookie), "the earlier login's refresh token")

	browser := earlier.newBrowser()
	browser.setCookie(refreshTokenCookie, earlier.cookie(refreshTokenCookie))
	front.setTokenRewrite(func(grant string, body map[string]any) { delete(body, "refresh_token") })
	require.NoError(t, browser.logInAs(testUserEmail, testUserPassword))
	assert.Empty(t, browser.cookie(refreshTokenCookie), "the login deleted the earlier refresh token")
	assert.Equal(t, http.StatusOK, browser.get("/account").StatusCode)

	front.idp.Advance(61 * time.Minute) // Past the kickstart's one-hour access tokens.
	front.idp.ResetRequests()
	resp := browser.get("/account")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assert.Zero(t, requestsTo(front.idp, "/oauth2/token"), "no refresh with another login's refresh token")
	assertLoggedOut(t, browser)
}

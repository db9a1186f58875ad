package e2e

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tutorial's promises, in the order a reader meets them.

func TestStubHomeShowsLogin(t *testing.T) {
	t.Parallel() // its own browser window; it changes nothing FusionAuth or the apps share
	b := newBrowser(t)
	b.openHome(suite.stubURL)
	label := read(b, "the Log in button's label", chromedp.Text(chromedp.ID("login")))
	assert.Contains(t, strings.ToLower(label), "log in", "the stub's home page has a Log in button")
}

func TestLoggedOutPagesRedirectHome(t *testing.T) {
	t.Parallel() // its own browser window; it changes nothing FusionAuth or the apps share
	b := newBrowser(t)
	b.openHome(suite.appURL)
	for _, path := range []string{"/account", "/make-change"} {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			b.on(t).openExpectingHome(path)
		})
	}
}

func TestLoginShowsAccount(t *testing.T) {
	t.Parallel() // its own browser window; it changes nothing FusionAuth or the apps share
	b := newBrowser(t)
	b.openHome(suite.appURL)
	b.clickLogin()

	// The login form is FusionAuth's own page, reached by an authorization request that
	// carries PKCE, state and nonce.
	authorize, err := url.Parse(b.location())
	require.NoError(t, err)
	issuer, err := url.Parse(suite.fusionAuth.url)
	require.NoError(t, err)
	assert.Equal(t, issuer.Host, authorize.Host, "the login form is served by FusionAuth (the issuer's host)")
	assert.Equal(t, "/oauth2/authorize", authorize.Path, "the login form is FusionAuth's authorize endpoint")
	q := authorize.Query()
	assert.Equal(t, suite.cfg.applicationID, q.Get("client_id"), "client_id")
	assert.Equal(t, "code", q.Get("response_type"), "response_type")
	assert.Equal(t, suite.appURL+"/callback", q.Get("redirect_uri"), "redirect_uri")
	assert.Contains(t, strings.Fields(q.Get("scope")), "openid", "scope")
	assert.Equal(t, "S256", q.Get("code_challenge_method"), "code_challenge_method")
	assert.Len(t, q.Get("code_challenge"), 43, "code_challenge is a base64url SHA-256 (%q)", q.Get("code_challenge"))
	assert.NotEmpty(t, q.Get("state"), "state")
	assert.NotEmpty(t, q.Get("nonce"), "nonce")

	b.signIn(richard, password)
	b.seeAccount(richard)

	// The session lives in cookies that page scripts can neither read nor send cross-site.
	cookies := b.appCookies()
	assert.Contains(t, cookies, accessTokenCookie, "after login the browser holds the access token (it holds %v)", cookieNames(cookies))
	assert.NotContains(t, cookies, loginCookie, "the one-time login cookie is gone after the callback")
	for name, c := range cookies {
		assert.True(t, c.HTTPOnly, "cookie %s is HttpOnly", name)
		assert.Equal(t, network.CookieSameSiteLax, c.SameSite, "cookie %s SameSite", name)
		assert.Equal(t, "/", c.Path, "cookie %s Path", name)
	}
	visible := read(b, "document.cookie", chromedp.Evaluate[string](`document.cookie`))
	assert.NotContains(t, visible, "oidc_", "page scripts see none of the application's cookies")
}

func TestMakeChange(t *testing.T) {
	t.Parallel() // its own browser window; it changes nothing FusionAuth or the apps share
	b := newBrowser(t)
	b.logIn(richard)
	b.do("follow Make change", chromedp.Click(chromedp.ID("make-change-link"), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.ID("make-change-form")))

	for _, tc := range []struct{ amount, want string }{
		{"0.29", "5 nickels and 4 pennies"},
		{"0.58", "11 nickels and 3 pennies"},
		{"1.02", "20 nickels and 2 pennies"},
		{"0.15", "3 nickels and 0 pennies"},
	} {
		t.Run(tc.amount, func(t *testing.T) {
			result, problem := b.on(t).makeChange(tc.amount)
			assert.Empty(t, problem, "make change for %s: error message", tc.amount)
			assert.Contains(t, result, tc.want, "make change for %s", tc.amount)
		})
	}
	for _, amount := range []string{"two dollars", "-1"} {
		t.Run(amount, func(t *testing.T) {
			result, problem := b.on(t).makeChange(amount)
			assert.Empty(t, result, "make change for %q: no result", amount)
			assert.NotEmpty(t, problem, "make change for %q: the page explains the problem", amount)
		})
	}
}

func TestLogoutEndsSession(t *testing.T) {
	t.Parallel() // its own browser window; it changes nothing FusionAuth or the apps share
	b := newBrowser(t)
	b.logIn(richard)

	b.seeFusionAuthRemembers(richard)

	b.do("click Log out", chromedp.Click(chromedp.ID("logout"), chromedp.NodeVisible))
	b.seeHome("come back from FusionAuth's logout to the home page")

	// oidc_logout stays for minutes: it names the session that ended, so that a refresh still
	// under way cannot bring it back, and holds no token.
	assert.Equal(t, []string{logoutCookie}, cookieNames(b.appCookies()), "after logout the browser holds none of the session's cookies")
	b.openExpectingHome("/account")

	// FusionAuth's session is over too: Log in shows its form again.
	b.do("click Log in again", chromedp.Click(chromedp.ID("login"), chromedp.NodeVisible))
	b.seeLoginForm("see FusionAuth's login form again, not an instant return to the account page")
}

// TestLogoutRevokesCopiedCookies: the tutorial's "Cookies copied before logout: the refresh
// token is revoked". Someone copies the browser's cookies before the user logs out. After
// logout, once the copied access token has expired, the copy is refused: the application
// revoked the refresh token at FusionAuth, which refuses to refresh it. The control is a
// second copy, used before the logout, which the application refreshes.
func TestLogoutRevokesCopiedCookies(t *testing.T) {
	const lifetime = 2 * time.Second
	setAccessTokenLifetime(t, int(lifetime.Seconds()))
	b := newBrowser(t)
	b.logIn(richard)
	control, copied := b.copyAppCookies(), b.copyAppCookies()

	time.Sleep(lifetime + time.Second) // both copies' access tokens expire
	if status, location := control.openAccount(); status != http.StatusOK {
		t.Fatalf("the control: before logout a copy is refreshed, but /account answered %d (to %q)", status, location)
	}
	if srv := suite.fusionAuth.standin; srv != nil {
		srv.ResetRequests()
	}
	b.logOut()
	if srv := suite.fusionAuth.standin; srv != nil {
		revoked := 0
		for _, r := range srv.Requests() {
			if r.Method == http.MethodPost && r.Path == "/api/logout" {
				revoked++
			}
		}
		if revoked != 1 {
			t.Errorf("FusionAuth heard %d Logout API calls at logout, want 1", revoked)
		}
	}

	status, location := copied.openAccount()
	if status != http.StatusSeeOther || location != "/" {
		t.Errorf("after logout the copied cookies get /account answered %d (to %q), want 303 to /", status, location)
	}
	if srv := suite.fusionAuth.standin; srv != nil {
		refused := false
		for _, r := range srv.Requests() {
			refused = refused || (r.Path == "/oauth2/token" && r.Form.Get("grant_type") == "refresh_token")
		}
		if !refused {
			t.Error("the copy was refused without asking FusionAuth: the test proves nothing about the revocation")
		}
	}
}

// TestLogoutWithoutIDTokenEndsFusionAuthSession: the tutorial's "The next person logged in
// silently: end-session always". A browser that lost the ID-token cookie still logs out of
// FusionAuth, so Log in shows FusionAuth's form again.
func TestLogoutWithoutIDTokenEndsFusionAuthSession(t *testing.T) {
	t.Parallel() // its own browser window; it changes nothing FusionAuth or the apps share
	b := newBrowser(t)
	b.logIn(richard)
	b.seeFusionAuthRemembers(richard)

	b.forgetAppCookie("oidc_id_token")

	b.logOut()
	b.do("click Log in again", chromedp.Click(chromedp.ID("login"), chromedp.NodeVisible))
	b.seeLoginForm("see FusionAuth's login form again, not an instant return to the account page")
}

func TestWrongPasswordShowsError(t *testing.T) {
	t.Parallel() // its own browser window; it changes nothing FusionAuth or the apps share
	b := newBrowser(t)
	b.openHome(suite.appURL)
	b.clickLogin()
	b.signIn(richard, "not-the-password")

	b.seeInvalidCredentials()
	b.seeLoginForm("still see FusionAuth's login form")
	assertNoSession(t, b)
	b.openExpectingHome("/account")
}

func TestUnregisteredUserNeverReachesAccount(t *testing.T) {
	t.Parallel() // its own browser window; it changes nothing FusionAuth or the apps share
	b := newBrowser(t)
	b.openHome(suite.appURL)
	b.clickLogin()
	b.signIn(admin, password) // right password, but not registered to Changebank

	// FusionAuth keeps the admin on its own "Registration Required" page: no code reaches the
	// application.
	b.seeNotRegistered()
	assert.NotContains(t, b.pageText(), "Invalid login credentials.",
		"the password was right: what stops the admin is the missing registration")
	assertNoSession(t, b)
	b.openExpectingHome("/account")
}

func TestExpiredAccessTokenIsRefreshed(t *testing.T) {
	const lifetime = 2 * time.Second
	setAccessTokenLifetime(t, int(lifetime.Seconds()))

	b := newBrowser(t)
	b.logIn(richard)
	before := b.appCookies()[accessTokenCookie]
	require.NotNil(t, before, "after login the browser holds %s", accessTokenCookie)
	if suite.fusionAuth.standin != nil {
		suite.fusionAuth.standin.ResetRequests()
	}

	time.Sleep(lifetime + time.Second) // the access token expires
	b.do("reload the account page", chromedp.Navigate(suite.appURL+"/account"))
	b.seeAccount(richard) // no detour through FusionAuth's login form

	after := b.appCookies()[accessTokenCookie]
	require.NotNil(t, after, "after the refresh the browser holds %s", accessTokenCookie)
	assert.NotEqual(t, before.Value, after.Value, "the application replaced the expired access token")
	if srv := suite.fusionAuth.standin; srv != nil {
		refreshed := false
		for _, r := range srv.Requests() {
			refreshed = refreshed || (r.Path == "/oauth2/token" && r.Form.Get("grant_type") == "refresh_token")
		}
		assert.True(t, refreshed, "the application used its refresh token at FusionAuth's token endpoint")
	}
}

// assertNoSession checks that the browser holds no session cookie of the application: none
// of its cookies but the login's own.
func assertNoSession(t *testing.T, b *browser) {
	t.Helper()
	for name := range b.appCookies() {
		assert.Equal(t, loginCookie, name, "no session cookie")
	}
}

// cookieNames lists the names of cookies, sorted, for messages.
func cookieNames(cookies map[string]*network.Cookie) []string {
	return slices.Sorted(maps.Keys(cookies))
}

func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

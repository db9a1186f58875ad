// Hardening beyond the login itself: configuration read and refused at
// start, FusionAuth's redirects not followed, key refetches limited, HSTS and
// Secure __Host- cookies behind https, cross-origin posts refused, and no
// caching of an answer that sets cookies.
//
// Which test checks which item of the security checklist (security.md, "The
// checklist"), and in which file. Tests are in this package unless marked e2e
// (the browser suite, ./e2e, against the FusionAuth stand-in or a real
// FusionAuth) or stub (./stub-application).
//
//	1. Discovery: exact issuer; app starts and serves public pages while
//	   FusionAuth is down, login 503, works once it is up.
//		login: TestDiscoveryRequiresTheExactIssuer, TestLoginWorksOnceFusionAuthStarts
//		main: TestRunServesLoginOnceFusionAuthComesUp, TestRunServesAndShutsDown
//		session: TestProtectedPagesWhileFusionAuthIsDown
//	2. Login transaction: fresh state, nonce, S256 verifier in a sealed short-
//	   lived cookie, deleted on use; any replica finishes a login; two tabs log
//	   in at once.
//		login: TestLoginAccountMakeChangeLogout, TestCallbackRefusesExpiredLogin,
//		TestTwoTabsLoggingInAtOnce, TestConcurrentLoginFlowsAllSucceed
//		session: TestReplicasWithOneKeyShareLoginsAndSessions
//	3. Callback: state, RFC 9207 iss (also before the error branch, and
//	   required when announced), escaped errors, replay and unsolicited callbacks
//	   refused before any token request.
//		login: TestCallbackRefusesForeignCallbacksBeforeAnyTokenRequest,
//		TestCallbackChecksIssBeforeItsError, TestCallbackWithoutIssIsRefused,
//		TestCallbackErrorIsEscaped, TestReplayedCallbackIsRefused,
//		TestCallbackRefusesReplayBeforeLogout
//	4. Token response: Bearer only, id_token present and a string, hanging
//	   endpoint.
//		login: TestCallbackRefusesMisbehavingFusionAuth,
//		TestCallbackGivesUpOnAHangingTokenEndpoint
//		session: TestRefreshRefusesNonBearerTokens, TestRefreshRefusesAMalformedIDToken
//	5. ID token: go-oidc's checks plus nonce, sub, iat, azp, extra audiences,
//	   pinned RS256, at_hash.
//		login: TestCallbackRefusesMisbehavingFusionAuth (one case per fault),
//		TestTokenResponsesWithASubstitutedAccessTokenAreRefused
//	6. Session cookies: HttpOnly, SameSite=Lax, Path=/, Secure and __Host-
//	   with https, under 4096 bytes, sealed binding the full name and a version.
//		login: TestLoginAccountMakeChangeLogout
//		hardening: TestSecureCookiesWhenAppURLIsHTTPS
//		session: TestCookieSealerSealsAndOpens, TestCookieSealerRefusesOversizedCookies,
//		TestCookieSealerClearMatchesAttributes, TestSealedValuesBindTheFullNameAndVersion
//		e2e:TestLoginShowsAccount
//	7. Protected pages: local verification, no call per request, a cache of
//	   verified tokens that re-checks exp and sub; refresh verified like a
//	   login; a refused refresh ends the session; racing tabs (Reusable and
//	   OneTimeUse, one replica or two) stay logged in.
//		login: TestLoginAccountMakeChangeLogout,
//		TestLoginWithoutRefreshTokenEndsWithItsAccessToken
//		session: TestVerifiedTokenIsNotVerifiedAgain,
//		TestTokenThatFailedIsNeverServedFromTheCache,
//		TestExpiredTokenIsRefusedEvenFromTheCache,
//		TestCachedTokenIsRefusedForAnotherUser, TestVerifiedTokenCacheStaysBounded,
//		TestVerifiedTokenCacheDropsExpiredEntriesFirst,
//		TestVerifiedTokenCacheIsSafeForConcurrentUse,
//		TestRefreshesExpiredAccessToken, TestRefreshRefusalsEndTheSession,
//		TestRefreshRefusesTokensFromAnotherAuthentication,
//		TestExpiredRefreshTokenEndsSession, TestRefreshWithoutIDToken,
//		TestTabsRefreshingTogetherStayLoggedIn,
//		TestRequestSentBeforeTheNewCookiesIsServed,
//		TestLostRefreshRaceOnAnotherReplicaKeepsTheWinnersCookies
//		e2e:TestExpiredAccessTokenIsRefreshed
//	8. Logout: same-origin POST; revokes the refresh token (Logout API); end-
//	   session redirect with client_id, post_logout_redirect_uri, state, hint
//	   when present, also without the ID token; returning state checked; front-
//	   channel GET idempotent and framable by FusionAuth only; unreachable
//	   FusionAuth said plainly; a copy of the cookies is dead after logout.
//		hardening: TestCrossOriginPostsAreRefused
//		logout: TestLogoutRevokesTheRefreshToken, TestLogoutForgetsASharedRefresh,
//		TestLogoutWithoutIDTokenEndsFusionAuthSession,
//		TestLogoutReturnChecksState, TestFrontChannelLogout,
//		TestLogoutWhenFusionAuthIsDown, TestLogoutIsLoggedWithTheSubject
//		e2e:TestLogoutEndsSession, e2e:TestLogoutRevokesCopiedCookies,
//		e2e:TestLogoutWithoutIDTokenEndsFusionAuthSession
//	9. Responses: no-store on session pages and on every cookie-setting answer
//	   (a refreshing GET / too); HSTS with https; static files from the static
//	   folder only; security headers; CSP.
//		pages: TestRoutesLoggedOut (incl. %2e%2e and ..%2f paths), TestRoutesLoggedIn
//		hardening: TestRefreshOnTheHomePageIsNotCached, TestHSTSOnlyWithHTTPS
//		session: TestSessionUseSetsACookieAtMostOncePerInterval
//		stub:TestStubServesItsPages
//	10. Bad input: tampered, truncated or foreign cookies mean logged out;
//	   malformed forms 400; upstream failures 502/503.
//		session: TestBadSessionCookiesMeanLoggedOut,
//		TestReplicasWithDifferentKeysLogTheUserOutCleanly,
//		TestSessionOutlivesAFusionAuthOutage
//		pages: TestMakeChange (malformed and oversized forms)
//		fuzz: FuzzSessionCookies, FuzzCallbackQuery, FuzzMakeChangeForm
//	11. Session limits: idle timeout and absolute lifetime checked locally
//	   before any refresh; a stale cookie set cannot drive refreshes.
//		session: TestIdleSessionEnds, TestSessionEndsAtItsMaximumLifetime,
//		TestStaleCookiesCannotDriveRefreshes
//		hardening: TestLoadConfigReadsSessionLimits
//	12. Upstream hardening: plain http to another host, the kickstart's
//	   secret, a missing APP_SECRET_KEY refused off this machine; no redirects
//	   followed; key refetches limited; iss before error.
//		hardening: TestLoadConfigRefusesUnsafeDeployments,
//		TestLoadConfigRefusesInvalidValues, TestFusionAuthRedirectsAreNotFollowed,
//		TestUnknownKeyRefetchesAreLimited
//		login: TestLoginAfterKeyRotation, TestCallbackChecksIssBeforeItsError
//		session: TestRefreshAfterKeyRotationFetchesTheKeysOnce
//	13. Money: integer cents, the four examples, bad amounts.
//		pages: TestParseDollars, TestMakeChangeCounts, TestMakeChange
//		fuzz: FuzzParseDollars
//		e2e:TestMakeChange

package main

import (
	"net"
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

func TestLoadConfigDefaultsMatchKickstart(t *testing.T) {
	cfg, err := loadConfig(func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, "http://localhost:5000", cfg.appURL.String())
	assert.Equal(t, ":5000", cfg.listenAddr)
	assert.Equal(t, "http://localhost:9011", cfg.issuer)
	assert.Equal(t, "e9fdb985-9173-4e01-9d73-ac2d60d1dc8e", cfg.clientID)
	assert.Len(t, cfg.secretKey, 52, "a random key when APP_SECRET_KEY is unset")
	assert.NotEmpty(t, cfg.warnings, "a warning about the random key")
	assert.Equal(t, "http://localhost:9011", cfg.issuerOrigin())
}

func TestLoadConfigReadsEnvironment(t *testing.T) {
	env := map[string]string{
		"APP_URL":        "https://bank.example/",
		"PORT":           "8080",
		"ISSUER":         "https://login.example/tenant",
		"CLIENT_ID":      "client",
		"CLIENT_SECRET":  "secret",
		"APP_SECRET_KEY": testSecretKey,
	}
	cfg, err := loadConfig(func(name string) string { return env[name] })
	require.NoError(t, err)
	assert.Equal(t, "https://bank.example", cfg.appURL.String())
	assert.Equal(t, ":8080", cfg.listenAddr)
	assert.Equal(t, "https://login.example/tenant", cfg.issuer)
	assert.Equal(t, "https://login.example", cfg.issuerOrigin())
	assert.Equal(t, []byte(testSecretKey), cfg.secretKey)
	assert.Empty(t, cfg.warnings)
}

// TestLoadConfigReadsSessionLimits: the limits come from the environment,
// with defaults a bank would pick.
func TestLoadConfigReadsSessionLimits(t *testing.T) {
	cfg, err := loadConfig(func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, 15*time.Minute, cfg.sessionIdleTimeout)
	assert.Equal(t, 8*time.Hour, cfg.sessionMaxLifetime)

	env := map[string]string{"SESSION_IDLE_TIMEOUT": "5m", "SESSION_MAX_LIFETIME": "1h30m"}
	cfg, err = loadConfig(func(name string) string { return env[name] })
	require.NoError(t, err)
	assert.Equal(t, 5*time.Minute, cfg.sessionIdleTimeout)
	assert.Equal(t, 90*time.Minute, cfg.sessionMaxLifetime)
}

// TestLoadConfigRefusesInvalidValues: each bad value stops the start with
// a message that names the variable to fix.
func TestLoadConfigRefusesInvalidValues(t *testing.T) {
	tests := []struct {
		name, value string
	}{
		{"APP_URL", "localhost:5000"},
		{"APP_URL", "ftp://localhost:5000"},
		{"APP_URL", "http://localhost:5000/bank"},
		{"APP_URL", "http://localhost:5000/?x=1"},
		{"APP_URL", "http://localhost:99999"},
		{"PORT", "http"},
		{"PORT", "70000"},
		{"ISSUER", "localhost:9011"},
		{"ISSUER", "http://"},
		{"ISSUER", "http://localhost:9011?tenant=x"},
		{"CLIENT_ID", " "},
		{"CLIENT_SECRET", " "},
		{"APP_SECRET_KEY", "too-short"},
	}
	for _, tt := range tests {
		_, err := loadConfig(func(name string) string {
			if name == tt.name {
				return tt.value
			}
			return ""
		})
		if assert.Error(t, err, "%s=%q", tt.name, tt.value) {
			assert.Contains(t, err.Error(), tt.name, "%s=%q: the message names the variable", tt.name, tt.value)
		}
	}
}

// TestLoadConfigRefusesUnsafeDeployments: anywhere but on this machine, the
// start is refused for plain http, the kickstart's public client secret, or
// a random cookie key, with a message that names the variable; the opt-out
// for plain http on a private network is accepted, loudly.
func TestLoadConfigRefusesUnsafeDeployments(t *testing.T) {
	deployed := map[string]string{
		"APP_URL":        "https://bank.example",
		"ISSUER":         "https://login.example",
		"CLIENT_SECRET":  "the-application's-own-secret",
		"APP_SECRET_KEY": testSecretKey,
	}
	tests := []struct {
		name     string
		change   map[string]string
		wantErr  string // the variable the message names; "" for a start
		wantWarn string
	}{
		{"the control: https everywhere, own secrets", nil, "", ""},
		{"APP_URL plain http on another host", map[string]string{"APP_URL": "http://bank.example"}, "APP_URL", ""},
		{"ISSUER plain http on another host", map[string]string{"ISSUER": "http://login.example"}, "ISSUER", ""},
		{"ISSUER plain http on this machine", map[string]string{"ISSUER": "http://127.0.0.1:9011"}, "", ""},
		{"the kickstart's client secret", map[string]string{"CLIENT_SECRET": ""}, "CLIENT_SECRET", ""},
		{"no APP_SECRET_KEY", map[string]string{"APP_SECRET_KEY": ""}, "APP_SECRET_KEY", ""},
		{"plain http with the opt-out", map[string]string{"APP_URL": "http://10.0.0.5:5000", "ISSUER": "http://10.0.0.6:9011", "ALLOW_PLAIN_HTTP": "true"}, "", "ALLOW_PLAIN_HTTP=true: ISSUER"},
		{"the opt-out is not a yes", map[string]string{"ISSUER": "http://10.0.0.6:9011", "ALLOW_PLAIN_HTTP": "1"}, "ISSUER", ""},
		{"SESSION_IDLE_TIMEOUT not a duration", map[string]string{"SESSION_IDLE_TIMEOUT": "15"}, "SESSION_IDLE_TIMEOUT", ""},
		{"SESSION_MAX_LIFETIME negative", map[string]string{"SESSION_MAX_LIFETIME": "-8h"}, "SESSION_MAX_LIFETIME", ""},
		{"idle timeout past the lifetime", map[string]string{"SESSION_IDLE_TIMEOUT": "9h"}, "SESSION_IDLE_TIMEOUT", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range deployed {
				env[k] = v
			}
			for k, v := range tt.change {
				env[k] = v
			}
			cfg, err := loadConfig(func(name string) string { return env[name] })
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.True(t, strings.HasPrefix(err.Error(), tt.wantErr+":"), "the message names %s: %v", tt.wantErr, err)
				return
			}
			require.NoError(t, err)
			if tt.wantWarn == "" {
				assert.Empty(t, cfg.warnings)
				return
			}
			assert.Contains(t, strings.Join(cfg.warnings, "\n"), tt.wantWarn)
		})
	}
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
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	issuer := "http://" + listener.Addr().String()
	front := &redirectingFront{elsewhere: elsewhere.URL}
	front.idp = fusionauthtest.NewServer(t, fusionauthtest.Options{Issuer: issuer})
	srv := &http.Server{Handler: front, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(listener) }()
	t.Cleanup(func() { _ = srv.Close() })
	app := newAppFor(t, front.idp, issuer)

	front.redirect.Store(&[]string{"/oauth2/token"})
	callback, err := app.loginCallback(testUserEmail, testUserPassword)
	require.NoError(t, err)
	resp := app.get(callback)
	assertErrorPage(t, resp, http.StatusBadGateway)
	assertSetsNoSession(t, resp.Response)
	assert.Zero(t, leaked.Load(), "the token request was not sent elsewhere")

	// The control, in a fresh browser: without the redirect, login works.
	front.redirect.Store(nil)
	app = app.newBrowser()
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	front.redirect.Store(&[]string{"/api/logout"})
	logout := app.post("/logout", nil)
	assert.Equal(t, http.StatusSeeOther, logout.StatusCode, "FusionAuth's session is still ended: %s", logout.body)
	assert.Zero(t, leaked.Load(), "the refresh token was not sent elsewhere")
}

// TestUnknownKeyRefetchesAreLimited: tokens signed by a key FusionAuth
// never published make the app fetch the key set again at most once per
// keyRefetchInterval, however many arrive; the rotated-key case (one
// refetch, then success) is TestLoginAfterKeyRotation.
func TestUnknownKeyRefetchesAreLimited(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword)) // the first fetch of the key set
	idp.InjectFault(fusionauthtest.FaultIDTokenUnknownKey)

	attempt := func() {
		t.Helper()
		browser := app.newBrowser()
		callback, err := browser.loginCallback(testUserEmail, testUserPassword)
		require.NoError(t, err)
		resp := browser.get(callback)
		assertErrorPage(t, resp, http.StatusBadGateway)
	}
	idp.Advance(keyRefetchInterval)
	idp.ResetRequests()
	for range 5 {
		attempt()
	}
	assert.Equal(t, 1, requestsTo(idp, "/.well-known/jwks.json"), "one refetch for five tokens with an unknown key")

	idp.Advance(keyRefetchInterval)
	attempt()
	attempt()
	assert.Equal(t, 2, requestsTo(idp, "/.well-known/jwks.json"), "one more once the interval has passed")
}

// TestHSTSOnlyWithHTTPS: Strict-Transport-Security comes with an https
// APP_URL, and never over plain http, where browsers would ignore it and it
// would pin a development host.
func TestHSTSOnlyWithHTTPS(t *testing.T) {
	for _, appURL := range []string{"https://changebank.example", "http://localhost:5000"} {
		env := map[string]string{"APP_URL": appURL, "APP_SECRET_KEY": testSecretKey, "CLIENT_SECRET": "own-secret"}
		handler, _ := newHandlerFromEnv(t, env)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, appURL+"/", nil))
		require.Equal(t, http.StatusOK, rec.Code)
		want := ""
		if strings.HasPrefix(appURL, "https:") {
			want = "max-age=31536000"
		}
		assert.Equal(t, want, rec.Header().Get("Strict-Transport-Security"), appURL)
	}
}

// TestSecureCookiesWhenAppURLIsHTTPS: behind https, every cookie is Secure
// and carries the __Host- prefix.
func TestSecureCookiesWhenAppURLIsHTTPS(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	const appURL = "https://changebank.example"
	// Anywhere but on this machine, the kickstart's public client secret
	// is refused: give the application a secret of its own.
	const clientSecret = "a-client-secret-only-this-test-knows"
	callAdminAPI(t, idp, http.MethodPatch, "/api/application/"+testClientID, map[string]any{"application": map[string]any{
		"oauthConfiguration": map[string]any{"clientSecret": clientSecret},
	}})
	env := map[string]string{"APP_URL": appURL, "PORT": "8443", "ISSUER": idp.URL(), "APP_SECRET_KEY": testSecretKey, "CLIENT_SECRET": clientSecret}
	handler, auth := newHandlerFromEnv(t, env)
	auth.now = idp.Now
	registerRedirectURLs(t, idp, appURL)

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, appURL+"/login", nil))
	require.Equal(t, http.StatusSeeOther, rec.Code)
	loginCookies := rec.Result().Cookies()
	require.Len(t, loginCookies, 1)
	assert.Equal(t, "__Host-cb_login", loginCookies[0].Name)
	assert.True(t, loginCookies[0].Secure)

	// FusionAuth sends the browser to the https callback; deliver it by hand.
	stepper := &testApp{t: t, url: appURL, idp: idp, auth: auth, client: newBrowserClient(t)}
	authorize, err := url.Parse(rec.Header().Get("Location"))
	require.NoError(t, err)
	callback, err := stepper.signIn(authorize, testUserEmail, testUserPassword)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, callback, nil)
	req.AddCookie(loginCookies[0])
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())

	names := map[string]bool{}
	for _, c := range rec.Result().Cookies() {
		names[c.Name] = true
		assert.True(t, strings.HasPrefix(c.Name, "__Host-cb_"), "cookie %s has the __Host- prefix", c.Name)
		assert.True(t, c.Secure, "cookie %s is Secure", c.Name)
		assert.True(t, c.HttpOnly, "cookie %s is HttpOnly", c.Name)
		assert.Equal(t, "/", c.Path)
		assert.Empty(t, c.Domain, "__Host- cookies have no Domain")
	}
	for _, name := range []string{"__Host-cb_access_token", "__Host-cb_refresh_token", "__Host-cb_id_token", "__Host-cb_user"} {
		assert.True(t, names[name], "callback sets %s", name)
	}
}

// TestCrossOriginPostsAreRefused: another site cannot post the app's forms.
func TestCrossOriginPostsAreRefused(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	for _, path := range []string{"/logout", "/make-change"} {
		req, err := http.NewRequest(http.MethodPost, app.url+path, strings.NewReader("amount=1"))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example.com")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp := app.do(req)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, path)
		assert.NotEmpty(t, elementText(resp.body, "error"), path)
	}
	assert.Equal(t, http.StatusOK, app.get("/account").StatusCode, "still logged in")
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

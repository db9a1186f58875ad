// Which test checks which item of the security checklist (security.md, "The
// checklist"). Tests are in this package unless marked e2e (the browser suite,
// ./e2e, against the FusionAuth stand-in or a real FusionAuth) or stub
// (./stub-application).
//
//	1. Discovery: exact issuer; app starts and serves public pages while
//	   FusionAuth is down, login 503, works once it is up.
//		TestDiscoveryRequiresTheExactIssuer, TestLoginWorksOnceFusionAuthStarts,
//		TestRunServesLoginOnceFusionAuthComesUp,
//		TestProtectedPagesWhileFusionAuthIsDown
//	2. Login transaction: fresh state, nonce, S256 verifier in a sealed short-
//	   lived cookie, deleted on use; any replica finishes a login; two tabs log
//	   in at once.
//		TestLoginAccountMakeChangeLogout, TestCallbackRefusesExpiredLogin,
//		TestReplicasWithOneKeyShareLoginsAndSessions,
//		TestTwoTabsLoggingInAtOnce, TestConcurrentLoginFlowsAllSucceed
//	3. Callback: state, RFC 9207 iss (also before the error branch, and
//	   required when announced), escaped errors, replay and unsolicited callbacks
//	   refused before any token request.
//		TestCallbackRefusesForeignCallbacksBeforeAnyTokenRequest,
//		TestCallbackChecksIssBeforeItsError, TestCallbackWithoutIssIsRefused,
//		TestCallbackErrorIsEscaped, TestReplayedCallbackIsRefused,
//		TestCallbackRefusesReplayBeforeLogout
//	4. Token response: Bearer only, id_token present and a string, hanging
//	   endpoint.
//		TestCallbackRefusesMisbehavingFusionAuth,
//		TestRefreshRefusesNonBearerTokens, TestRefreshRefusesAMalformedIDToken,
//		TestCallbackGivesUpOnAHangingTokenEndpoint
//	5. ID token: go-oidc's checks plus nonce, sub, iat, azp, extra audiences,
//	   pinned RS256, at_hash.
//		TestCallbackRefusesMisbehavingFusionAuth (one case per fault),
//		TestTokenResponsesWithASubstitutedAccessTokenAreRefused
//	6. Session cookies: HttpOnly, SameSite=Lax, Path=/, Secure and __Host-
//	   with https, under 4096 bytes, sealed binding the full name and a version.
//		TestLoginAccountMakeChangeLogout, TestSecureCookiesWhenAppURLIsHTTPS,
//		TestCookieJarSealsAndOpens, TestCookieJarRefusesOversizedCookies,
//		TestSealedValuesBindTheFullNameAndVersion, e2e:TestLoginShowsAccount
//	7. Protected pages: local verification, no call per request; refresh
//	   verified like a login; a refused refresh ends the session; racing tabs
//	   (Reusable and OneTimeUse, one replica or two) stay logged in.
//		TestLoginAccountMakeChangeLogout, TestRefreshesExpiredAccessToken,
//		TestRefreshRefusalsEndTheSession,
//		TestRefreshRefusesTokensFromAnotherAuthentication,
//		TestExpiredRefreshTokenEndsSession,
//		TestTabsRefreshingTogetherStayLoggedIn,
//		TestRequestSentBeforeTheNewCookiesIsServed,
//		TestLostRefreshRaceOnAnotherReplicaKeepsTheWinnersCookies,
//		e2e:TestExpiredAccessTokenIsRefreshed
//	8. Logout: same-origin POST; revokes the refresh token (Logout API); end-
//	   session redirect with client_id, post_logout_redirect_uri, state, hint
//	   when present, also without the ID token; returning state checked; front-
//	   channel GET idempotent and framable by FusionAuth only; unreachable
//	   FusionAuth said plainly; a copy of the cookies is dead after logout.
//		TestCrossOriginPostsAreRefused, TestLogoutRevokesTheRefreshToken,
//		TestLogoutForgetsASharedRefresh,
//		TestLogoutWithoutIDTokenEndsFusionAuthSession,
//		TestLogoutReturnChecksState, TestFrontChannelLogout,
//		TestLogoutWhenFusionAuthIsDown, TestLogoutIsLoggedWithTheSubject,
//		e2e:TestLogoutEndsSession, e2e:TestLogoutRevokesCopiedCookies,
//		e2e:TestLogoutWithoutIDTokenEndsFusionAuthSession
//	9. Responses: no-store on session pages and on every cookie-setting answer
//	   (a refreshing GET / too); HSTS with https; static files from the static
//	   folder only; security headers; CSP.
//		TestRoutesLoggedOut (incl. %2e%2e and ..%2f paths), TestRoutesLoggedIn,
//		TestRefreshOnTheHomePageIsNotCached,
//		TestSessionUseSetsACookieAtMostOncePerInterval, TestHSTSOnlyWithHTTPS,
//		stub:TestStubServesItsPages
//	10. Bad input: tampered, truncated or foreign cookies mean logged out;
//	   malformed forms 400; upstream failures 502/503.
//		TestBadSessionCookiesMeanLoggedOut,
//		TestReplicasWithDifferentKeysLogTheUserOutCleanly,
//		TestSessionOutlivesAFusionAuthOutage, FuzzSessionCookies,
//		FuzzCallbackQuery, FuzzMakeChangeForm
//	11. Session limits: idle timeout and absolute lifetime checked locally
//	   before any refresh; a stale cookie set cannot drive refreshes.
//		TestIdleSessionEnds, TestSessionEndsAtItsMaximumLifetime,
//		TestStaleCookiesCannotDriveRefreshes, TestLoadConfigReadsSessionLimits
//	12. Upstream hardening: plain http to another host, the kickstart's
//	   secret, a missing APP_SECRET_KEY refused off this machine; no redirects
//	   followed; key refetches limited; iss before error.
//		TestLoadConfigRefusesUnsafeDeployments,
//		TestFusionAuthRedirectsAreNotFollowed,
//		TestUnknownKeyRefetchesAreLimited, TestLoginAfterKeyRotation,
//		TestRefreshAfterKeyRotationFetchesTheKeysOnce,
//		TestCallbackChecksIssBeforeItsError
//	13. Money: integer cents, the four examples, bad amounts.
//		TestParseDollars, TestMakeChangeCounts, TestMakeChange,
//		FuzzParseDollars, e2e:TestMakeChange

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

// redirectingFront serves the stand-in, except that the paths it is told
// answer with a 307 to elsewhere, as a hijacked or misconfigured proxy would.
type redirectingFront struct {
	idp       *fusionauthtest.Server
	elsewhere string
	redirect  atomic.Pointer[[]string]
}

func (f *redirectingFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if paths := f.redirect.Load(); paths != nil {
		for _, p := range *paths {
			if r.URL.Path == p {
				http.Redirect(w, r, f.elsewhere+r.URL.Path, http.StatusTemporaryRedirect)
				return
			}
		}
	}
	f.idp.ServeHTTP(w, r)
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

// newAppFor starts the application with issuer, which serves idp.
func newAppFor(t *testing.T, idp *fusionauthtest.Server, issuer string) *testApp {
	t.Helper()
	srv, auth := newAppWithIssuer(t, issuer)
	auth.now = idp.Now
	registerRedirectURLs(t, idp, srv.URL)
	return &testApp{t: t, url: srv.URL, idp: idp, auth: auth, client: newBrowserClient(t), srv: srv}
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
		cfg, err := loadConfig(func(name string) string { return env[name] })
		require.NoError(t, err)
		logger := newDiscardLogger()
		pages, err := parsePages(logger)
		require.NoError(t, err)
		auth, err := newAuthenticator(cfg, logger)
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		newHandler(logger, pages, auth, cfg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, appURL+"/", nil))
		require.Equal(t, http.StatusOK, rec.Code)
		want := ""
		if strings.HasPrefix(appURL, "https:") {
			want = "max-age=31536000"
		}
		assert.Equal(t, want, rec.Header().Get("Strict-Transport-Security"), appURL)
	}
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
		app := newAppFor(t, idp, tt.issuer)
		assert.Equal(t, tt.want, app.get("/login").StatusCode, "ISSUER=%s", tt.issuer)
	}
}

package fusionauthtest_test

// The stand-in's model where a test needs its clock, its admin API or a
// kickstart of its own: lifetimes, policies, SSO sessions, logout behaviours.

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"changebank/e2e/fusionauthtest"
)

func TestExpiredCodeIsRefused(t *testing.T) {
	tests := []struct {
		wait      time.Duration
		wantError string
	}{
		{wait: 29 * time.Second},
		{wait: 31 * time.Second, wantError: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.wait.String(), func(t *testing.T) {
			tg := stub(t)
			ctx := testContext(t)
			c := newClient(t, ctx, tg)
			code, req := logIn(t, c, newBrowser(t))
			tg.Stub.Advance(tt.wait)
			_, err := c.config.Exchange(ctx, code, oauth2.VerifierOption(req.Verifier))
			if tt.wantError == "" {
				require.NoError(t, err, "a code %s old still works", tt.wait)
				return
			}
			te := asTokenError(t, err)
			assert.Equal(t, http.StatusBadRequest, te.Status)
			assert.Equal(t, tt.wantError, te.Error)
			assert.Equal(t, "auth_code_not_found", te.Reason)
		})
	}
}

func TestAuthorizeErrorsGoBackToTheApplication(t *testing.T) {
	tg := stub(t)
	c := newClient(t, testContext(t), tg)
	tests := []struct {
		name       string
		params     func(q url.Values)
		wantError  string
		wantReason string
	}{
		{"PKCE is required", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request", "missing_code_challenge"},
		{"unknown scope", func(q url.Values) { q.Set("scope", "openid admin") }, "invalid_scope", "unknown_scope"},
		{"implicit flow", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type", "invalid_response_type"},
		// LIKELY authorize-param-checks (FUSIONAUTH.md).
		{"no response_type", func(q url.Values) { q.Del("response_type") }, "invalid_request", "missing_response_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(c.authorizeURL(loginRequest{State: "s", Nonce: "n", Verifier: oauth2.GenerateVerifier()}))
			require.NoError(t, err)
			q := u.Query()
			tt.params(q)
			u.RawQuery = q.Encode()
			cb := callback(t, tg, newBrowser(t).get(t, u.String()))
			assert.Equal(t, tt.wantError, cb.Get("error"))
			assert.Equal(t, tt.wantReason, cb.Get("error_reason"))
			assert.NotEmpty(t, cb.Get("error_description"))
			assert.Equal(t, "s", cb.Get("state"))
			assert.Equal(t, tg.URL, cb.Get("iss"), "error redirects carry iss too")
		})
	}
}

// TestKeepMeSignedIn: ticked, the consent step sets a persistent
// fusionauth.sso cookie and the next request passes without the form;
// unticked, there is no SSO session at all.
func TestKeepMeSignedIn(t *testing.T) {
	tg := stub(t)
	c := newClient(t, testContext(t), tg)
	for _, remember := range []bool{true, false} {
		t.Run(strconv.FormatBool(remember), func(t *testing.T) {
			b := newBrowser(t)
			loginPage := b.get(t, c.authorizeURL(newLoginRequest()))
			assert.Equal(t, "true", loginForm(t, loginPage.Body).Get("rememberDevice"), "the stand-in pre-ticks the box")
			p := b.loginRemembering(t, tg, c.authorizeURL(newLoginRequest()), tg.User, tg.Password, remember)
			callback(t, tg, p)
			sso := cookieNamed(p.Cookies, "fusionauth.sso")
			next := b.authorize(t, tg, c.authorizeURL(newLoginRequest()))
			if !remember {
				assert.Nil(t, sso, "no fusionauth.sso cookie")
				assert.Equal(t, http.StatusOK, next.Status, "no SSO session: the login form again")
				return
			}
			require.NotNil(t, sso, "fusionauth.sso is set")
			assert.True(t, sso.HttpOnly)
			assert.Equal(t, 2147483647, sso.MaxAge, "a persistent cookie")
			assert.NotEmpty(t, callback(t, tg, next).Get("code"), "the SSO session lets the next request through")
		})
	}
}

// TestSSOSessionEndsWhenIdle: the tenant's httpSessionMaxInactiveInterval
// (3600 s unless PATCHed) ends an SSO session nobody used for that long;
// using it restarts the clock.
func TestSSOSessionEndsWhenIdle(t *testing.T) {
	tests := []struct {
		name     string
		interval int // 0 keeps the default
		idle     time.Duration
		wantSSO  bool
	}{
		{name: "default, used within the hour", idle: 59 * time.Minute, wantSSO: true},
		{name: "default, idle for an hour", idle: time.Hour, wantSSO: false},
		{name: "PATCHed to 60 s, idle for 61 s", interval: 60, idle: 61 * time.Second, wantSSO: false},
		{name: "PATCHed to 7200 s, idle for 61 min", interval: 7200, idle: 61 * time.Minute, wantSSO: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := stub(t)
			if tt.interval != 0 {
				ks, err := fusionauthtest.LoadKickstart(projectKickstart, nil)
				require.NoError(t, err)
				status, _ := adminRequest(t, tg, http.MethodPatch, "/api/tenant/"+ks.Variables["defaultTenantId"], map[string]any{
					"tenant": map[string]any{"httpSessionMaxInactiveInterval": tt.interval},
				})
				require.Equal(t, http.StatusOK, status)
			}
			c := newClient(t, testContext(t), tg)
			b := newBrowser(t)
			logIn(t, c, b)
			tg.Stub.Advance(tt.idle / 2)
			callback(t, tg, b.authorize(t, tg, c.authorizeURL(newLoginRequest()))) // use restarts the clock
			tg.Stub.Advance(tt.idle)
			p := b.authorize(t, tg, c.authorizeURL(newLoginRequest()))
			if tt.wantSSO {
				assert.NotEmpty(t, callback(t, tg, p).Get("code"), "the session is alive")
				return
			}
			assert.Equal(t, http.StatusOK, p.Status, "the idle session has ended: the login form")
			assert.Contains(t, p.Body, `id="loginId"`)
		})
	}
}

func TestClientAuthenticationPolicy(t *testing.T) {
	tests := []struct {
		policy     string
		wantStatus int // 0: the exchange succeeds
	}{
		{policy: "Required", wantStatus: http.StatusUnauthorized},
		{policy: "NotRequiredWhenUsingPKCE"},
		{policy: "NotRequired"},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			tg := stub(t)
			ctx := testContext(t)
			status, _ := adminRequest(t, tg, http.MethodPatch, "/api/application/"+tg.ClientID, map[string]any{
				"application": map[string]any{"oauthConfiguration": map[string]any{"clientAuthenticationPolicy": tt.policy}},
			})
			require.Equal(t, http.StatusOK, status)
			c := newClient(t, ctx, tg)
			code, req := logIn(t, c, newBrowser(t))

			public := c.config
			public.ClientSecret = ""
			public.Endpoint.AuthStyle = oauth2.AuthStyleInParams
			_, err := public.Exchange(ctx, code, oauth2.VerifierOption(req.Verifier))
			if tt.wantStatus == 0 {
				assert.NoError(t, err, "exchange without a client secret")
				return
			}
			te := asTokenError(t, err)
			assert.Equal(t, tt.wantStatus, te.Status)
			assert.Equal(t, "invalid_client", te.Error)
		})
	}
}

func TestUnregisteredUserWithoutRequireRegistration(t *testing.T) {
	tg := stub(t)
	status, _ := adminRequest(t, tg, http.MethodPatch, "/api/application/"+tg.ClientID, map[string]any{
		"application": map[string]any{"oauthConfiguration": map[string]any{"requireRegistration": false}},
	})
	require.Equal(t, http.StatusOK, status)
	c := newClient(t, testContext(t), tg)
	b := newBrowser(t)
	q := callback(t, tg, b.login(t, tg, c.authorizeURL(newLoginRequest()), tg.Unregistered, tg.Password))
	assert.Equal(t, "AuthenticatedNotRegistered", q.Get("userState"))
	assert.NotEmpty(t, q.Get("code"))
}

// TestTokenRefusalHeaders: a refused Basic client gets a plain Basic challenge.
func TestTokenRefusalHeaders(t *testing.T) {
	tg := stub(t)
	c := newClient(t, testContext(t), tg)
	c.tg.ClientSecret = "wrong"
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, c.config.Endpoint.TokenURL,
		strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(tg.ClientID, "wrong")
	p := newBrowser(t).do(t, req)
	assert.Equal(t, http.StatusUnauthorized, p.Status)
	assert.Equal(t, "Basic", p.Header.Get("WWW-Authenticate"))
}

// TestConsentNeedsALogin: the consent step without a login behind it never
// gives a code: bad OAuth parameters get the error page, good ones go back to
// /oauth2/authorize, as they are (LIKELY consent-without-login, FUSIONAUTH.md).
func TestConsentNeedsALogin(t *testing.T) {
	tg := stub(t)
	login := url.Values{"client_id": {tg.ClientID}, "redirect_uri": {tg.RedirectURL}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}
	tests := []struct {
		name       string
		query      url.Values
		wantStatus int
		wantReason string // on the error page
	}{
		{"a login's parameters", login, http.StatusFound, ""},
		{"no redirect_uri", url.Values{"client_id": {tg.ClientID}}, http.StatusBadRequest, "missing_redirect_uri"},
		{"an unknown client", url.Values{"client_id": {"nobody"}, "redirect_uri": {tg.RedirectURL}}, http.StatusBadRequest, "invalid_client_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newBrowser(t).get(t, tg.URL+"/oauth2/consent?"+tt.query.Encode())
			assert.Equal(t, tt.wantStatus, p.Status)
			if tt.wantReason != "" {
				assert.Empty(t, p.Location)
				assert.Contains(t, p.Body, "We're sorry")
				assert.Contains(t, p.Body, tt.wantReason)
				return
			}
			assert.Equal(t, "/oauth2/authorize?"+tt.query.Encode(), p.Location)
		})
	}

	t.Run("a login for another client", func(t *testing.T) {
		b := newBrowser(t)
		c := newClient(t, testContext(t), tg)
		form := loginForm(t, b.get(t, c.authorizeURL(newLoginRequest())).Body)
		form.Set("loginId", tg.User)
		form.Set("password", tg.Password)
		post := b.postForm(t, tg.URL+"/oauth2/authorize", form)
		require.Equal(t, http.StatusFound, post.Status)
		other := url.Values{"client_id": {fusionauthtest.FusionAuthApplicationID}, "redirect_uri": {"/admin/login"}, "response_type": {"code"}}
		p := b.get(t, tg.URL+"/oauth2/consent?"+other.Encode())
		assert.Equal(t, http.StatusFound, p.Status)
		assert.Equal(t, "/oauth2/authorize?"+other.Encode(), p.Location, "no code for the admin application from Changebank's login")
	})
}

// TestRefreshTokenUsagePolicy: Reusable (the default) keeps the refresh token;
// OneTimeUse, set by the kickstart or the admin API, swaps it at every refresh.
func TestRefreshTokenUsagePolicy(t *testing.T) {
	oneTimeUse := map[string]any{"application": map[string]any{"jwtConfiguration": map[string]any{
		"refreshTokenUsagePolicy": "OneTimeUse",
	}}}
	tests := []struct {
		name    string
		setUp   func(t *testing.T) target
		wantNew bool
	}{
		{name: "Reusable by default", setUp: func(t *testing.T) target { return stub(t) }},
		{name: "OneTimeUse by PATCH", wantNew: true, setUp: func(t *testing.T) target {
			tg := stub(t)
			status, _ := adminRequest(t, tg, http.MethodPatch, "/api/application/"+tg.ClientID, oneTimeUse)
			require.Equal(t, http.StatusOK, status, "PATCH refreshTokenUsagePolicy")
			return tg
		}},
		{name: "OneTimeUse by the kickstart", wantNew: true, setUp: func(t *testing.T) target {
			return stubWithKickstart(t, func(ks string) string {
				return strings.Replace(ks, `"refreshTokenTimeToLiveInMinutes": 43200`,
					`"refreshTokenTimeToLiveInMinutes": 43200, "refreshTokenUsagePolicy": "OneTimeUse"`, 1)
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := tt.setUp(t)
			c := newClient(t, testContext(t), tg)
			token := logInForTokens(t, c, newBrowser(t))
			first := token.RefreshToken

			status, body := refreshRaw(t, c, first)
			require.Equal(t, http.StatusOK, status, "first refresh: %v", body)
			next, _ := body["refresh_token"].(string)
			if !tt.wantNew {
				assert.Equal(t, first, next, "Reusable: the same refresh token again")
				status, body = refreshRaw(t, c, first)
				assert.Equal(t, http.StatusOK, status, "Reusable: the refresh token works again: %v", body)
				return
			}
			require.NotEmpty(t, next, "OneTimeUse: a new refresh token")
			assert.NotEqual(t, first, next)
			assert.Equal(t, token.Extra("refresh_token_id"), body["refresh_token_id"], "the same id (LIKELY one-time-use-keeps-id)")

			status, body = refreshRaw(t, c, first)
			assert.Equal(t, http.StatusBadRequest, status, "OneTimeUse: the used refresh token is refused")
			assert.Equal(t, "invalid_grant", body["error"])
			assert.Equal(t, "refresh_token_not_found", body["error_reason"])
			status, body = refreshRaw(t, c, next)
			assert.Equal(t, http.StatusOK, status, "the new refresh token works: %v", body)
		})
	}

	t.Run("unknown policy is refused", func(t *testing.T) {
		tg := stub(t)
		status, _ := adminRequest(t, tg, http.MethodPatch, "/api/application/"+tg.ClientID, map[string]any{
			"application": map[string]any{"jwtConfiguration": map[string]any{"refreshTokenUsagePolicy": "Sometimes"}},
		})
		assert.Equal(t, http.StatusBadRequest, status)
	})
}

// TestRefreshTokenReuseDetection: under FaultRefreshTokenReuseDetection every
// refresh rotates the refresh token, and presenting a replaced one again
// revokes its whole login's chain, the newest token included. Without the
// fault a replaced token is merely refused (OneTimeUse) or still good
// (Reusable). Another login's chain is never touched.
func TestRefreshTokenReuseDetection(t *testing.T) {
	tests := []struct {
		name       string
		oneTimeUse bool
		fault      bool
		replay     int // which token of the chain (login, first refresh, second refresh) is presented again
		wantReplay int // status of the replay
		wantNewest int // status of a refresh with the newest token afterwards
	}{
		{name: "positive control: Reusable without the fault", replay: 0, wantReplay: http.StatusOK, wantNewest: http.StatusOK},
		{name: "OneTimeUse without the fault", oneTimeUse: true, replay: 0, wantReplay: http.StatusBadRequest, wantNewest: http.StatusOK},
		{name: "the fault under Reusable, the login's token again", fault: true, replay: 0, wantReplay: http.StatusBadRequest, wantNewest: http.StatusBadRequest},
		{name: "the fault under OneTimeUse, a refreshed token again", oneTimeUse: true, fault: true, replay: 1, wantReplay: http.StatusBadRequest, wantNewest: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := stub(t)
			if tt.oneTimeUse {
				status, _ := adminRequest(t, tg, http.MethodPatch, "/api/application/"+tg.ClientID, map[string]any{
					"application": map[string]any{"jwtConfiguration": map[string]any{"refreshTokenUsagePolicy": "OneTimeUse"}},
				})
				require.Equal(t, http.StatusOK, status, "PATCH refreshTokenUsagePolicy")
			}
			if tt.fault {
				tg.Stub.InjectFault(fusionauthtest.FaultRefreshTokenReuseDetection)
			}
			c := newClient(t, testContext(t), tg)
			token := logInForTokens(t, c, newBrowser(t))
			bystander := logInForTokens(t, c, newBrowser(t)).RefreshToken

			chain := []string{token.RefreshToken}
			for range 2 {
				status, body := refreshRaw(t, c, chain[len(chain)-1])
				require.Equal(t, http.StatusOK, status, "refresh with the newest token: %v", body)
				next, _ := body["refresh_token"].(string)
				require.NotEmpty(t, next)
				if tt.fault || tt.oneTimeUse {
					require.NotEqual(t, chain[len(chain)-1], next, "the refresh token rotates")
				}
				assert.Equal(t, token.Extra("refresh_token_id"), body["refresh_token_id"], "one refresh token id along the chain")
				chain = append(chain, next)
			}

			status, body := refreshRaw(t, c, chain[tt.replay])
			assert.Equal(t, tt.wantReplay, status, "the replayed token: %v", body)
			if tt.wantReplay != http.StatusOK {
				assert.Equal(t, "invalid_grant", body["error"])
			}
			status, body = refreshRaw(t, c, chain[len(chain)-1])
			assert.Equal(t, tt.wantNewest, status, "the newest token after the replay: %v", body)
			status, body = refreshRaw(t, c, bystander)
			assert.Equal(t, http.StatusOK, status, "another login's refresh token: %v", body)
		})
	}
}

func TestLogoutRedirectOnly(t *testing.T) {
	tg := stub(t)
	status, _ := adminRequest(t, tg, http.MethodPatch, "/api/application/"+tg.ClientID, map[string]any{
		"application": map[string]any{"oauthConfiguration": map[string]any{"logoutBehavior": "RedirectOnly"}},
	})
	require.Equal(t, http.StatusOK, status)
	p := newBrowser(t).get(t, tg.URL+"/oauth2/logout?"+url.Values{
		"client_id": {tg.ClientID}, "post_logout_redirect_uri": {tg.LogoutURL}, "state": {"x y"},
	}.Encode())
	assert.Equal(t, http.StatusFound, p.Status)
	assert.Equal(t, tg.LogoutURL+"?state=x+y", p.Location)
}

// TestLogoutAPIIsRecorded: a test can see that a client revoked its refresh
// token, and with which parameters.
func TestLogoutAPIIsRecorded(t *testing.T) {
	tg := stub(t)
	c := newClient(t, testContext(t), tg)
	token := logInForTokens(t, c, newBrowser(t))
	tg.Stub.ResetRequests()

	postLogoutAPI(t, tg, url.Values{"global": {"false"}, "refreshToken": {token.RefreshToken}}, "", "", nil)
	requests := tg.Stub.Requests()
	require.Equal(t, 1, countRequests(requests, http.MethodPost, "/api/logout"), "POST /api/logout is recorded")
	assert.Equal(t, token.RefreshToken, requests[0].Query.Get("refreshToken"))
}

// TestLogoutPageFramesTheOtherApplications: the "Logging out" page frames
// every other application's logout URL; the FusionAuth admin application's as
// it is, the others told the issuer and the session when the id_token_hint
// names one (LIKELY logout-frames-sid, FUSIONAUTH.md).
func TestLogoutPageFramesTheOtherApplications(t *testing.T) {
	const otherLogout = "http://other.example/logout"
	tg := stubWithKickstart(t, func(ks string) string {
		return strings.Replace(ks, `"requests": [`, `"requests": [
    {"method": "POST", "url": "/api/application/00000000-0000-4000-8000-0000000000a5",
     "body": {"application": {"name": "Other", "oauthConfiguration": {
       "authorizedRedirectURLs": ["http://other.example/callback"], "logoutURL": "`+otherLogout+`"}}}},`, 1)
	})
	ctx := testContext(t)
	c := newClient(t, ctx, tg)
	idTokenOf := func(remember bool) (hint, sid string) {
		req := newLoginRequest()
		q := callback(t, tg, newBrowser(t).loginRemembering(t, tg, c.authorizeURL(req), tg.User, tg.Password, remember))
		token, err := c.config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(req.Verifier))
		require.NoError(t, err)
		hint = token.Extra("id_token").(string)
		idToken, err := c.verifier.Verify(ctx, hint)
		require.NoError(t, err)
		sid, _ = tokenClaims(t, idToken)["sid"].(string)
		return hint, sid
	}
	withSession, sid := idTokenOf(true)
	require.NotEmpty(t, sid, "a login with an SSO session")
	withoutSession, noSID := idTokenOf(false)
	require.Empty(t, noSID, "a login without an SSO session")

	tests := []struct {
		name      string
		hint      string
		wantOther string
	}{
		{"a hint that names a session", withSession, otherLogout + "?iss=" + url.QueryEscape(tg.URL) + "&sid=" + url.QueryEscape(sid)},
		{"a hint without a session", withoutSession, otherLogout},
		{"no hint", "", otherLogout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"client_id": {tg.ClientID}, "post_logout_redirect_uri": {tg.LogoutURL}}
			if tt.hint != "" {
				q.Set("id_token_hint", tt.hint)
			}
			p := newBrowser(t).get(t, tg.URL+"/oauth2/logout?"+q.Encode())
			require.Equal(t, http.StatusOK, p.Status, "the Logging out page")
			var frames []string
			for _, f := range logoutFrames(t, p.Body) {
				frames = append(frames, f.String())
			}
			assert.ElementsMatch(t, []string{tg.URL + "/admin/single-logout", tt.wantOther}, frames,
				"the admin application plainly, the other one as wanted, not Changebank, which the page redirects to")
			assert.Equal(t, tg.LogoutURL, metaRefreshURL(p.Body), "the page redirects to post_logout_redirect_uri")
		})
	}
}

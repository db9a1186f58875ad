package fusionauthtest_test

// Tests of the stand-in's own hooks (clock, faults, key rotation, request
// recording). A real FusionAuth has none of them, so these skip when
// FUSIONAUTH_URL is set.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"changebank/e2e/fusionauthtest"
)

// flowResult is everything a relying party sees in one login.
type flowResult struct {
	req      loginRequest
	callback url.Values
	// tokenStatus and tokenBody are the raw token response, so that faults x/oauth2
	// would hide (an "error" in a 200) stay visible.
	tokenStatus int
	tokenBody   map[string]any
	idToken     string
	header      map[string]any // the ID token's JOSE header, unverified
	claims      map[string]any // the ID token's claims, unverified
	verifyErr   error          // go-oidc's verdict on the ID token
}

// runFlow logs in and exchanges the code with a plain form POST.
func runFlow(t *testing.T, c client) flowResult {
	t.Helper()
	ctx := testContext(t)
	b := newBrowser(t)
	res := flowResult{req: newLoginRequest()}
	p := b.login(t, c.tg, c.authorizeURL(res.req), c.tg.User, c.tg.Password)
	res.callback = callback(t, c.tg, p)
	if res.callback.Get("code") == "" {
		return res
	}

	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {res.callback.Get("code")},
		"redirect_uri":  {c.tg.RedirectURL},
		"code_verifier": {res.req.Verifier},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.config.Endpoint.TokenURL, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.tg.ClientID, c.tg.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	res.tokenStatus = resp.StatusCode
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&res.tokenBody))

	res.idToken, _ = res.tokenBody["id_token"].(string)
	if res.idToken != "" {
		res.header, res.claims = unverifiedParts(t, res.idToken)
		_, res.verifyErr = c.verifier.Verify(ctx, res.idToken)
	}
	return res
}

// unverifiedParts decodes a compact JWT's header and claims without checking
// anything, to look at what a fault did.
func unverifiedParts(t *testing.T, token string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3, "compact JWT")
	for i, into := range []*map[string]any{&header, &claims} {
		data, err := base64.RawURLEncoding.DecodeString(parts[i])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, into))
	}
	return header, claims
}

func TestFaults(t *testing.T) {
	tg := stub(t)
	c := newClient(t, testContext(t), tg)

	tests := []struct {
		fault fusionauthtest.Fault
		check func(t *testing.T, r flowResult)
	}{
		{fusionauthtest.FaultIDTokenWrongIssuer, func(t *testing.T, r flowResult) {
			assert.NotEqual(t, tg.URL, r.claims["iss"])
			assert.ErrorContains(t, r.verifyErr, "different provider")
		}},
		{fusionauthtest.FaultIDTokenMissingIssuer, func(t *testing.T, r flowResult) {
			assert.NotContains(t, r.claims, "iss")
			assert.Error(t, r.verifyErr)
		}},
		{fusionauthtest.FaultIDTokenWrongAudience, func(t *testing.T, r flowResult) {
			assert.NotEqual(t, tg.ClientID, r.claims["aud"])
			assert.ErrorContains(t, r.verifyErr, "audience")
		}},
		{fusionauthtest.FaultIDTokenExtraAudience, func(t *testing.T, r flowResult) {
			aud, _ := r.claims["aud"].([]any)
			assert.Len(t, aud, 2, "aud lists an untrusted client too")
			assert.Contains(t, aud, tg.ClientID)
			assert.NoError(t, r.verifyErr, "go-oidc accepts it: the application must check")
		}},
		{fusionauthtest.FaultIDTokenMissingAudience, func(t *testing.T, r flowResult) {
			assert.NotContains(t, r.claims, "aud")
			assert.Error(t, r.verifyErr)
		}},
		{fusionauthtest.FaultIDTokenWrongAuthorizedParty, func(t *testing.T, r flowResult) {
			assert.NotEmpty(t, r.claims["azp"])
			assert.NotEqual(t, tg.ClientID, r.claims["azp"])
			assert.NoError(t, r.verifyErr, "go-oidc ignores azp: the application must check")
		}},
		{fusionauthtest.FaultIDTokenMissingSubject, func(t *testing.T, r flowResult) {
			assert.NotContains(t, r.claims, "sub")
			assert.NoError(t, r.verifyErr, "go-oidc does not require sub: the application must")
		}},
		{fusionauthtest.FaultIDTokenMissingIssuedAt, func(t *testing.T, r flowResult) {
			assert.NotContains(t, r.claims, "iat")
			assert.NoError(t, r.verifyErr, "go-oidc does not check iat: the application must")
		}},
		{fusionauthtest.FaultIDTokenIssuedLongAgo, func(t *testing.T, r flowResult) {
			iat, _ := r.claims["iat"].(float64)
			assert.Less(t, iat, float64(time.Now().Add(-6*24*time.Hour).Unix()))
			assert.NoError(t, r.verifyErr)
		}},
		{fusionauthtest.FaultIDTokenIssuedInFuture, func(t *testing.T, r flowResult) {
			iat, _ := r.claims["iat"].(float64)
			assert.Greater(t, iat, float64(time.Now().Add(30*time.Minute).Unix()))
			assert.NoError(t, r.verifyErr)
		}},
		{fusionauthtest.FaultIDTokenExpired, func(t *testing.T, r flowResult) {
			exp, _ := r.claims["exp"].(float64)
			assert.Less(t, exp, float64(time.Now().Unix()), "exp is in the past")
			assert.ErrorContains(t, r.verifyErr, "expired")
		}},
		{fusionauthtest.FaultIDTokenMissingExpiry, func(t *testing.T, r flowResult) {
			assert.NotContains(t, r.claims, "exp")
			assert.ErrorContains(t, r.verifyErr, "expired", "go-oidc reads a missing exp as long expired")
		}},
		{fusionauthtest.FaultIDTokenWrongNonce, func(t *testing.T, r flowResult) {
			assert.NotEqual(t, r.req.Nonce, r.claims["nonce"])
			assert.NotEmpty(t, r.claims["nonce"])
			assert.NoError(t, r.verifyErr, "go-oidc does not check the nonce: the application must")
		}},
		{fusionauthtest.FaultIDTokenMissingNonce, func(t *testing.T, r flowResult) {
			assert.NotContains(t, r.claims, "nonce")
			assert.NoError(t, r.verifyErr, "go-oidc does not check the nonce: the application must")
		}},
		{fusionauthtest.FaultIDTokenBadSignature, func(t *testing.T, r flowResult) {
			assert.Equal(t, "RS256", r.header["alg"])
			assert.ErrorContains(t, r.verifyErr, "signature")
		}},
		{fusionauthtest.FaultIDTokenAlgNone, func(t *testing.T, r flowResult) {
			assert.Equal(t, "none", r.header["alg"])
			assert.True(t, strings.HasSuffix(r.idToken, "."), "empty signature")
			assert.Error(t, r.verifyErr)
		}},
		{fusionauthtest.FaultIDTokenHS256ClientSecret, func(t *testing.T, r flowResult) {
			assert.Equal(t, "HS256", r.header["alg"])
			assert.Error(t, r.verifyErr)
			tok, err := jwt.ParseSigned(r.idToken, []jose.SignatureAlgorithm{jose.HS256})
			require.NoError(t, err)
			var claims map[string]any
			assert.NoError(t, tok.Claims([]byte(tg.ClientSecret), &claims), "signed with the client secret")
		}},
		{fusionauthtest.FaultIDTokenUnknownKey, func(t *testing.T, r flowResult) {
			assert.NotEmpty(t, r.header["kid"])
			assert.Error(t, r.verifyErr)
		}},
		{fusionauthtest.FaultTokenResponseError, func(t *testing.T, r flowResult) {
			assert.Equal(t, http.StatusOK, r.tokenStatus)
			assert.Equal(t, "server_error", r.tokenBody["error"])
			assert.NotContains(t, r.tokenBody, "access_token")
		}},
		{fusionauthtest.FaultTokenResponseNoIDToken, func(t *testing.T, r flowResult) {
			assert.Equal(t, http.StatusOK, r.tokenStatus)
			assert.NotContains(t, r.tokenBody, "id_token")
			assert.Contains(t, r.tokenBody, "access_token")
		}},
		{fusionauthtest.FaultTokenResponseDPoP, func(t *testing.T, r flowResult) {
			assert.Equal(t, "DPoP", r.tokenBody["token_type"])
			assert.Contains(t, r.tokenBody, "access_token")
		}},
		{fusionauthtest.FaultCallbackAlteredState, func(t *testing.T, r flowResult) {
			assert.NotEqual(t, r.req.State, r.callback.Get("state"))
			assert.NotEmpty(t, r.callback.Get("code"))
		}},
		{fusionauthtest.FaultCallbackWrongIssuer, func(t *testing.T, r flowResult) {
			assert.NotEqual(t, tg.URL, r.callback.Get("iss"))
			assert.NotEmpty(t, r.callback.Get("code"))
		}},
		{fusionauthtest.FaultCallbackError, func(t *testing.T, r flowResult) {
			assert.Equal(t, "access_denied", r.callback.Get("error"))
			assert.Contains(t, r.callback.Get("error_description"), "<script>")
			assert.Equal(t, r.req.State, r.callback.Get("state"))
			assert.Empty(t, r.callback.Get("code"))
		}},
	}

	t.Run("positive control", func(t *testing.T) {
		r := runFlow(t, c)
		require.NoError(t, r.verifyErr)
		assert.Equal(t, r.req.Nonce, r.claims["nonce"])
		assert.Equal(t, r.req.State, r.callback.Get("state"))
		assert.Equal(t, tg.URL, r.callback.Get("iss"))
		assert.Equal(t, "Bearer", r.tokenBody["token_type"])
	})
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			tg.Stub.InjectFault(tt.fault)
			defer tg.Stub.ClearFaults()
			tt.check(t, runFlow(t, c))
		})
	}
	t.Run("cleared", func(t *testing.T) {
		require.NoError(t, runFlow(t, c).verifyErr, "ClearFaults restores a correct IdP")
	})
}

func TestRefreshFaults(t *testing.T) {
	tg := stub(t)
	ctx := testContext(t)
	c := newClient(t, ctx, tg)

	tests := []struct {
		fault fusionauthtest.Fault
		claim string
	}{
		{fusionauthtest.FaultRefreshIDTokenWrongIssuer, "iss"},
		{fusionauthtest.FaultRefreshIDTokenWrongSubject, "sub"},
		{fusionauthtest.FaultRefreshIDTokenWrongAudience, "aud"},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			code, req := logIn(t, c, newBrowser(t))
			token, err := c.config.Exchange(ctx, code, oauth2.VerifierOption(req.Verifier))
			require.NoError(t, err)
			rawFirst, ok := token.Extra("id_token").(string)
			require.True(t, ok, "id_token in the token response")
			_, first := unverifiedParts(t, rawFirst)

			tg.Stub.InjectFault(tt.fault)
			defer tg.Stub.ClearFaults()
			refreshed, err := c.config.TokenSource(ctx, &oauth2.Token{RefreshToken: token.RefreshToken}).Token()
			require.NoError(t, err)
			rawSecond, ok := refreshed.Extra("id_token").(string)
			require.True(t, ok, "id_token in the refresh response")
			_, second := unverifiedParts(t, rawSecond)
			assert.NotEqual(t, first[tt.claim], second[tt.claim], "refreshed ID token's %s", tt.claim)
		})
	}
}

func TestTokenEndpointHangsUntilTheClientGivesUp(t *testing.T) {
	tg := stub(t)
	c := newClient(t, testContext(t), tg)
	code, req := logIn(t, c, newBrowser(t))
	tg.Stub.InjectFault(fusionauthtest.FaultTokenEndpointHangs)

	ctx, cancel := context.WithTimeout(testContext(t), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.config.Exchange(ctx, code, oauth2.VerifierOption(req.Verifier))
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "want a deadline error, got %v", err)
	assert.Less(t, time.Since(start), 5*time.Second)
}

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

// TestShortLivedAccessTokenIsRefreshed shortens the lifetime through the admin
// API, as a test would against FusionAuth, and moves the clock past it.
func TestShortLivedAccessTokenIsRefreshed(t *testing.T) {
	tg := stub(t)
	ctx := testContext(t)
	status, _ := adminRequest(t, tg, http.MethodPatch, "/api/application/"+tg.ClientID, map[string]any{
		"application": map[string]any{"jwtConfiguration": map[string]any{
			"timeToLiveInSeconds": 60, "refreshTokenTimeToLiveInMinutes": 10,
		}},
	})
	require.Equal(t, http.StatusOK, status)
	c := newClient(t, ctx, tg)

	code, req := logIn(t, c, newBrowser(t))
	token, err := c.config.Exchange(ctx, code, oauth2.VerifierOption(req.Verifier))
	require.NoError(t, err)
	assert.InDelta(t, 60, time.Until(token.Expiry).Seconds(), 5, "expires_in follows the PATCH")

	userinfo := func(tok *oauth2.Token) int {
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, tg.URL+"/oauth2/userinfo", nil)
		require.NoError(t, err)
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(r)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, userinfo(token))
	tg.Stub.Advance(61 * time.Second)
	assert.Equal(t, http.StatusBadRequest, userinfo(token), "the access token has expired")

	refreshed, err := c.config.TokenSource(ctx, &oauth2.Token{RefreshToken: token.RefreshToken}).Token()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, userinfo(refreshed))

	tg.Stub.Advance(10 * time.Minute)
	_, err = c.config.TokenSource(ctx, &oauth2.Token{RefreshToken: token.RefreshToken}).Token()
	te := asTokenError(t, err)
	assert.Equal(t, "invalid_grant", te.Error, "the refresh token has expired")
}

func TestRotatedKeyIsPublished(t *testing.T) {
	tg := stub(t)
	ctx := testContext(t)
	c := newClient(t, ctx, tg)

	first := runFlow(t, c)
	require.NoError(t, first.verifyErr)
	newKeyID, err := tg.Stub.RotateKey()
	require.NoError(t, err)
	status, key := adminRequest(t, tg, http.MethodGet, "/api/key/"+newKeyID, nil)
	require.Equal(t, http.StatusOK, status)
	newKid := key["key"].(map[string]any)["kid"]

	tg.Stub.ResetRequests()
	second := runFlow(t, c)
	assert.Equal(t, newKid, second.header["kid"], "the header names the key's kid property")
	assert.NotEqual(t, newKeyID, second.header["kid"], "not its id")
	assert.NotEqual(t, first.header["kid"], second.header["kid"])
	require.NoError(t, second.verifyErr, "go-oidc refetches JWKS for the new kid")
	assert.Equal(t, 1, countRequests(tg.Stub.Requests(), http.MethodGet, "/.well-known/jwks.json"), "one JWKS refetch")
}

func countRequests(requests []fusionauthtest.Request, method, path string) int {
	n := 0
	for _, r := range requests {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

func TestRequestsAreRecorded(t *testing.T) {
	tg := stub(t)
	c := newClient(t, testContext(t), tg)
	r := runFlow(t, c)
	require.NoError(t, r.verifyErr)

	var token *fusionauthtest.Request
	for _, rec := range tg.Stub.Requests() {
		if rec.Method == http.MethodPost && rec.Path == "/oauth2/token" {
			token = &rec
		}
	}
	require.NotNil(t, token, "the token request is recorded")
	assert.Equal(t, "authorization_code", token.Form.Get("grant_type"))
	assert.Equal(t, r.req.Verifier, token.Form.Get("code_verifier"))
	assert.True(t, strings.HasPrefix(token.Header.Get("Authorization"), "Basic "))
	assert.Equal(t, 1, countRequests(tg.Stub.Requests(), http.MethodGet, "/oauth2/authorize"))

	tg.Stub.ResetRequests()
	assert.Empty(t, tg.Stub.Requests())
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

func TestDiscoveryFollowsForwardedHeaders(t *testing.T) {
	tg := stub(t)
	req := httptest.NewRequest(http.MethodGet, "/.well-known/openid-configuration", nil)
	req.Host = "internal:9011"
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", "login.example.com")
	rec := httptest.NewRecorder()
	tg.Stub.ServeHTTP(rec, req)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
	assert.Equal(t, "https://login.example.com/oauth2/token", doc["token_endpoint"])
	assert.Equal(t, tg.URL, doc["issuer"], "the issuer is the tenant's, not the request's")
}

func TestStartServesUntilClosed(t *testing.T) {
	s, err := fusionauthtest.Start("127.0.0.1:0", fusionauthtest.Options{KickstartPath: projectKickstart})
	require.NoError(t, err)
	t.Cleanup(s.Close) // should an assertion stop the test before the Close below
	resp, err := http.Get(s.URL() + "/api/status")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "http://localhost:9011", s.Issuer(), "Start keeps the kickstart's issuer")
	s.Close()
	_, err = http.Get(s.URL() + "/api/status")
	assert.Error(t, err, "closed")
}

func TestAllFaultsHaveNames(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range fusionauthtest.AllFaults() {
		name := f.String()
		assert.True(t, strings.HasPrefix(name, "Fault") && name != "Fault(unknown)", "fault %d has a name", f)
		assert.False(t, seen[name], "duplicate %s", name)
		seen[name] = true
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

func TestRefusedApplicationPatchChangesNothing(t *testing.T) {
	tests := []struct {
		name string
		jwt  map[string]any
	}{
		{"a signing key that does not exist", map[string]any{"accessTokenKeyId": "00000000-0000-4000-8000-00000000dead", "timeToLiveInSeconds": 5}},
		{"a lifetime that is not a number", map[string]any{"timeToLiveInSeconds": "five", "refreshTokenTimeToLiveInMinutes": 1}},
	}
	tg := stub(t)
	path := "/api/application/" + tg.ClientID
	status, before := adminRequest(t, tg, http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, status)
	require.NotEmpty(t, before["application"], "GET %s", path)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _ := adminRequest(t, tg, http.MethodPatch, path, map[string]any{
				"application": map[string]any{"jwtConfiguration": tt.jwt},
			})
			assert.Equal(t, http.StatusBadRequest, status, "PATCH jwtConfiguration %v", tt.jwt)
			status, after := adminRequest(t, tg, http.MethodGet, path, nil)
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, before, after, "the application after a refused PATCH")
		})
	}
	c := newClient(t, testContext(t), tg)
	code, req := logIn(t, c, newBrowser(t))
	token, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
	require.NoError(t, err, "tokens are still issued after the refused PATCHes")
	assert.InDelta(t, 3600, time.Until(token.Expiry).Seconds(), 5, "the kickstart's lifetime still holds")
}

func TestNewServerLeavesNoSocketOpen(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("counts open files through /proc/self/fd, which this system does not have")
	}
	openFiles := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		require.NoError(t, err)
		return len(entries)
	}
	// A socket nobody closes is closed by its finalizer once the garbage collector
	// runs; without it, each one stays open and is counted.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	const servers = 5
	before := openFiles()
	for i := range servers {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			s := fusionauthtest.NewServer(t, fusionauthtest.Options{KickstartPath: projectKickstart})
			resp, err := http.Get(s.URL() + "/api/status")
			require.NoError(t, err)
			resp.Body.Close()
		})
	}
	http.DefaultClient.CloseIdleConnections()
	assert.Less(t, openFiles()-before, servers, "open files after %d servers came and went", servers)
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
			first := logInForTokens(t, c, newBrowser(t)).RefreshToken

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
			assert.NotEmpty(t, body["refresh_token_id"], "with its id")

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

// TestEveryResponseNamesTheStandin: successes, errors, pages, redirects and
// unknown paths all carry the stand-in's header.
func TestEveryResponseNamesTheStandin(t *testing.T) {
	tg := stub(t)
	c := newClient(t, testContext(t), tg)
	b := newBrowser(t)
	pages := map[string]page{
		"status":                 b.get(t, tg.URL+"/api/status"),
		"discovery":              b.get(t, tg.URL+"/.well-known/openid-configuration"),
		"login page":             b.get(t, c.authorizeURL(newLoginRequest())),
		"authorize error page":   b.get(t, tg.URL+"/oauth2/authorize?client_id=nobody"),
		"token error":            b.postForm(t, tg.URL+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}}),
		"userinfo without token": b.get(t, tg.URL+"/oauth2/userinfo"),
		"admin API without key":  b.get(t, tg.URL+"/api/application/"+tg.ClientID),
		"logout":                 b.get(t, tg.URL+"/oauth2/logout?client_id="+tg.ClientID),
		"Logout API":             postLogoutAPI(t, tg, nil, "", "", nil),
		"unknown path":           b.get(t, tg.URL+"/no/such/path"),
	}
	for name, p := range pages {
		assert.Equal(t, fusionauthtest.StandinHeaderValue, p.Header.Get(fusionauthtest.StandinHeader), "%s (status %d)", name, p.Status)
	}
	assert.Equal(t, "X-Changebank-Standin", fusionauthtest.StandinHeader)
}

// TestRotatedKeyIsTrustedOnlyWhenListed is FusionAuth 1.69's rule for tokens
// presented back to it: after a rotation an old token is refused by userinfo
// and as an id_token_hint until the application lists the old key among its
// verification keys.
func TestRotatedKeyIsTrustedOnlyWhenListed(t *testing.T) {
	tg := stub(t)
	ctx := testContext(t)
	c := newClient(t, ctx, tg)
	token := logInForTokens(t, c, newBrowser(t))
	hint := token.Extra("id_token").(string)
	appPath := "/api/application/" + tg.ClientID
	_, app := adminRequest(t, tg, http.MethodGet, appPath, nil)
	oldKeyID, _ := applicationField(app, "jwtConfiguration", "accessTokenKeyId").(string)
	require.NotEmpty(t, oldKeyID)

	userinfo := func() int {
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, tg.URL+"/oauth2/userinfo", nil)
		require.NoError(t, err)
		r.Header.Set("Authorization", "Bearer "+token.AccessToken)
		resp, err := http.DefaultClient.Do(r)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	logout := func() page {
		return newBrowser(t).get(t, tg.URL+"/oauth2/logout?"+url.Values{"client_id": {tg.ClientID}, "id_token_hint": {hint}}.Encode())
	}
	require.Equal(t, http.StatusOK, userinfo(), "before the rotation")
	require.Equal(t, http.StatusOK, logout().Status, "before the rotation")

	_, err := tg.Stub.RotateKey()
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, userinfo(), "an access token signed with the old key")
	refused := logout()
	assert.Equal(t, http.StatusBadRequest, refused.Status, "an id_token_hint signed with the old key")
	assert.Contains(t, refused.Body, "invalid_id_token_hint")

	status, _ := adminRequest(t, tg, http.MethodPatch, appPath, map[string]any{"application": map[string]any{"jwtConfiguration": map[string]any{
		"accessTokenVerificationKeyIds": []string{oldKeyID}, "idTokenVerificationKeyIds": []string{oldKeyID},
	}}})
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, http.StatusOK, userinfo(), "the old key, listed")
	assert.Equal(t, http.StatusOK, logout().Status, "the old key, listed")
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

// TestConsentNeedsALogin: the consent step without a login behind it is an
// error page, never a code.
func TestConsentNeedsALogin(t *testing.T) {
	tg := stub(t)
	p := newBrowser(t).get(t, tg.URL+"/oauth2/consent?client_id="+tg.ClientID)
	assert.Equal(t, http.StatusBadRequest, p.Status)
	assert.Empty(t, p.Location)
	assert.Contains(t, p.Body, "We're sorry")
}

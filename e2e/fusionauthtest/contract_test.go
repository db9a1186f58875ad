package fusionauthtest_test

// Contract tests: FusionAuth's behaviour as the application relies on it. They
// use only HTTP, an x/oauth2 + go-oidc client and the admin API, so they run
// unchanged against a real FusionAuth:
//
//	FUSIONAUTH_URL=http://localhost:9011 go test ./e2e/fusionauthtest -run Contract
//
// (FUSIONAUTH_API_KEY defaults to the kickstart's key.) Against the stand-in
// they prove it still behaves like FusionAuth; against FusionAuth they prove the
// stand-in's model of it right or wrong.

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

func TestContractDiscovery(t *testing.T) {
	tg := newTarget(t)
	ctx := testContext(t)
	c := newClient(t, ctx, tg) // go-oidc refuses a discovery document whose issuer differs from the URL

	var doc struct {
		Issuer              string   `json:"issuer"`
		Authorization       string   `json:"authorization_endpoint"`
		Token               string   `json:"token_endpoint"`
		Userinfo            string   `json:"userinfo_endpoint"`
		JWKS                string   `json:"jwks_uri"`
		EndSession          string   `json:"end_session_endpoint"`
		ChallengeMethods    []string `json:"code_challenge_methods_supported"`
		TokenAuthMethods    []string `json:"token_endpoint_auth_methods_supported"`
		Scopes              []string `json:"scopes_supported"`
		IssParameterSupport bool     `json:"authorization_response_iss_parameter_supported"`
	}
	require.NoError(t, c.provider.Claims(&doc))
	assert.Equal(t, tg.URL, doc.Issuer)
	// Since 1.69 every authorization response carries iss (RFC 9207). The
	// complete application refuses a code without iss when this is advertised.
	assert.True(t, doc.IssParameterSupport, "authorization_response_iss_parameter_supported")
	assert.Equal(t, tg.URL+"/oauth2/authorize", doc.Authorization)
	assert.Equal(t, tg.URL+"/oauth2/token", doc.Token)
	assert.Equal(t, tg.URL+"/oauth2/userinfo", doc.Userinfo)
	assert.Equal(t, tg.URL+"/.well-known/jwks.json", doc.JWKS)
	assert.Equal(t, tg.URL+"/oauth2/logout", doc.EndSession)
	assert.Contains(t, doc.ChallengeMethods, "S256")
	assert.Contains(t, doc.TokenAuthMethods, "client_secret_basic")
	for _, scope := range []string{"openid", "email", "profile", "offline_access"} {
		assert.Contains(t, doc.Scopes, scope)
	}

	b := newBrowser(t)
	jwks := b.get(t, doc.JWKS)
	assert.Equal(t, http.StatusOK, jwks.Status)
	assert.Contains(t, jwks.Body, `"RS256"`, "JWKS publishes the kickstart's RS256 key")

	status := b.get(t, tg.URL+"/api/status")
	assert.Equal(t, http.StatusOK, status.Status, "/api/status")
	assert.JSONEq(t, `{"status":"ok"}`, status.Body)
	health := b.get(t, tg.URL+"/api/health")
	assert.Equal(t, http.StatusOK, health.Status, "/api/health")
}

func TestContractLoginPage(t *testing.T) {
	tg := newTarget(t)
	c := newClient(t, testContext(t), tg)
	req := newLoginRequest()
	p := newBrowser(t).get(t, c.authorizeURL(req))

	require.Equal(t, http.StatusOK, p.Status)
	assert.Regexp(t, `<title>\s*Login\s*</title>`, p.Body)
	assert.Regexp(t, `<form[^>]*action="/oauth2/authorize"[^>]*method="POST"|<form[^>]*method="POST"[^>]*action="/oauth2/authorize"`, p.Body)
	assert.Regexp(t, `<input[^>]*id="loginId"`, p.Body)
	assert.Regexp(t, `<input[^>]*id="password"`, p.Body)
	assert.Regexp(t, `<button[^>]*type="button"`, p.Body, "show-password button")
	assert.Regexp(t, `<button[^>]*id="submit-button"`, p.Body)
	assert.Contains(t, p.Body, "Keep me signed in")

	form := loginForm(t, p.Body)
	for name, want := range map[string]string{
		"client_id":             tg.ClientID,
		"redirect_uri":          tg.RedirectURL,
		"response_type":         "code",
		"state":                 req.State,
		"nonce":                 req.Nonce,
		"code_challenge":        oauth2.S256ChallengeFromVerifier(req.Verifier),
		"code_challenge_method": "S256",
	} {
		assert.Equal(t, want, form.Get(name), "hidden field %s", name)
	}
	assert.Equal(t, "openid email profile offline_access", form.Get("scope"))
	assert.Regexp(t, `<input[^>]*name="rememberDevice"`, p.Body, "the Keep me signed in checkbox")
}

// TestContractLoginExchangeRefresh walks the whole authorization code flow the
// application uses, then userinfo, refresh and refresh-token revocation.
func TestContractLoginExchangeRefresh(t *testing.T) {
	tg := newTarget(t)
	ctx := testContext(t)
	c := newClient(t, ctx, tg)
	b := newBrowser(t)

	req := newLoginRequest()
	q := callback(t, tg, b.login(t, tg, c.authorizeURL(req), tg.User, tg.Password))
	assert.Equal(t, req.State, q.Get("state"))
	assert.Equal(t, tg.URL, q.Get("iss"), "RFC 9207 iss in the callback")
	assert.Equal(t, "Authenticated", q.Get("userState"))
	assert.NotEmpty(t, q.Get("locale"))

	token, err := c.config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(req.Verifier))
	require.NoError(t, err, "exchange the code")
	assert.Equal(t, "Bearer", token.TokenType)
	assert.NotEmpty(t, token.RefreshToken, "offline_access gives a refresh token")
	assert.False(t, token.Expiry.IsZero(), "expires_in is set")
	assert.NotEmpty(t, token.Extra("userId"))

	rawID, ok := token.Extra("id_token").(string)
	require.True(t, ok, "id_token in the token response")
	idToken, err := c.verifier.Verify(ctx, rawID)
	require.NoError(t, err, "verify the ID token")
	require.NoError(t, idToken.VerifyAccessToken(token.AccessToken), "at_hash")
	id := tokenClaims(t, idToken)
	assert.Equal(t, req.Nonce, id["nonce"])
	assert.Equal(t, tg.User, id["email"])
	assert.Equal(t, true, id["email_verified"])
	assert.NotEmpty(t, id["given_name"], "profile scope gives name claims")
	assert.NotEmpty(t, id["sid"])
	assert.NotContains(t, id, "roles", "no roles in the ID token")

	// The access token is a JWT the application verifies locally.
	accessToken, err := c.verifier.Verify(ctx, token.AccessToken)
	require.NoError(t, err, "verify the access token as a JWT")
	access := tokenClaims(t, accessToken)
	assert.Equal(t, idToken.Subject, accessToken.Subject)
	assert.Equal(t, tg.ClientID, access["applicationId"])
	assert.Contains(t, access, "roles")
	assert.NotContains(t, access, "email", "Strict scope handling: no email in the access token")
	for _, claim := range []string{"jti", "auth_time", "authenticationType", "tid", "scope", "sid", "iat", "exp"} {
		assert.Contains(t, access, claim)
	}

	info, err := c.provider.UserInfo(ctx, oauth2.StaticTokenSource(token))
	require.NoError(t, err, "userinfo")
	assert.Equal(t, idToken.Subject, info.Subject)
	assert.Equal(t, tg.User, info.Email)

	refreshed, err := c.config.TokenSource(ctx, &oauth2.Token{RefreshToken: token.RefreshToken}).Token()
	require.NoError(t, err, "refresh")
	assert.NotEqual(t, token.AccessToken, refreshed.AccessToken)
	rawRefreshedID, ok := refreshed.Extra("id_token").(string)
	require.True(t, ok, "id_token in the refresh response")
	refreshedID, err := c.verifier.Verify(ctx, rawRefreshedID)
	require.NoError(t, err, "verify the refreshed ID token")
	assert.Equal(t, idToken.Subject, refreshedID.Subject)

	status, _ := adminRequest(t, tg, http.MethodDelete, "/api/jwt/refresh?token="+url.QueryEscape(token.RefreshToken), nil)
	require.Equal(t, http.StatusOK, status, "revoke the refresh token")
	_, err = c.config.TokenSource(ctx, &oauth2.Token{RefreshToken: token.RefreshToken}).Token()
	require.Error(t, err, "a revoked refresh token is refused")
	te := asTokenError(t, err)
	assert.Equal(t, http.StatusBadRequest, te.Status)
	assert.Equal(t, "invalid_grant", te.Error)
}

// TestContractSSOSessionEndsAtLogout: "Keep me signed in" lets the next
// authorization request through without the login page, until logout.
func TestContractSSOSessionEndsAtLogout(t *testing.T) {
	tg := newTarget(t)
	ctx := testContext(t)
	c := newClient(t, ctx, tg)
	b := newBrowser(t)

	code, req := logIn(t, c, b)
	token, err := c.config.Exchange(ctx, code, oauth2.VerifierOption(req.Verifier))
	require.NoError(t, err)

	again := newLoginRequest()
	q := callback(t, tg, b.get(t, c.authorizeURL(again)))
	assert.Equal(t, again.State, q.Get("state"), "SSO: straight back with a code")
	assert.NotEmpty(t, q.Get("code"))

	var endSession struct {
		URL string `json:"end_session_endpoint"`
	}
	require.NoError(t, c.provider.Claims(&endSession))
	logout := endSession.URL + "?" + url.Values{
		"client_id":                {tg.ClientID},
		"id_token_hint":            {token.Extra("id_token").(string)},
		"post_logout_redirect_uri": {tg.LogoutURL},
		"state":                    {"logout-state"},
	}.Encode()
	p := b.get(t, logout)
	// The kickstart keeps the default logoutBehavior, AllApplications.
	require.Equal(t, http.StatusOK, p.Status, "the Logging out page")
	assert.Regexp(t, `<iframe[^>]*src="`+regexpQuote(tg.LogoutURL), p.Body, "front-channel logout of the app")
	assert.Regexp(t, `http-equiv="refresh"`, p.Body)
	assert.Contains(t, p.Body, tg.LogoutURL+"?state=logout-state", "redirect to post_logout_redirect_uri with state")

	after := b.get(t, c.authorizeURL(newLoginRequest()))
	assert.Equal(t, http.StatusOK, after.Status, "after logout the login page is shown again")
	assert.Contains(t, after.Body, `id="loginId"`)
}

func regexpQuote(s string) string {
	return strings.NewReplacer(".", `\.`, "?", `\?`).Replace(s)
}

func TestContractPostLogoutRedirectMustBeAuthorized(t *testing.T) {
	tg := newTarget(t)
	p := newBrowser(t).get(t, tg.URL+"/oauth2/logout?"+url.Values{
		"client_id":                {tg.ClientID},
		"post_logout_redirect_uri": {"https://evil.example.com/"},
	}.Encode())
	assert.False(t, p.Status >= 300 && p.Status < 400, "no redirect to an unauthorized URL; got %d to %s", p.Status, p.Location)
	assert.NotContains(t, p.Body, `url=https://evil.example.com`)
}

// TestContractLoginRefusals: what FusionAuth answers instead of a code.
func TestContractLoginRefusals(t *testing.T) {
	tests := []struct {
		name string
		// do returns the page FusionAuth answers.
		do       func(t *testing.T, tg target, c client, b browser) page
		wantText string
		// notText must not be on the page: a right password is not refused as a wrong one.
		notText string
	}{
		{
			name: "wrong password",
			do: func(t *testing.T, tg target, c client, b browser) page {
				return b.login(t, tg, c.authorizeURL(newLoginRequest()), tg.User, "not-the-password")
			},
			wantText: "Invalid login credentials.",
		},
		{
			name: "unknown user",
			do: func(t *testing.T, tg target, c client, b browser) page {
				return b.login(t, tg, c.authorizeURL(newLoginRequest()), "nobody@example.com", tg.Password)
			},
			wantText: "Invalid login credentials.",
		},
		{
			name: "user not registered to the application",
			do: func(t *testing.T, tg target, c client, b browser) page {
				return b.login(t, tg, c.authorizeURL(newLoginRequest()), tg.Unregistered, tg.Password)
			},
			notText: "Invalid login credentials.",
		},
		{
			name: "unregistered redirect URI",
			do: func(t *testing.T, tg target, c client, b browser) page {
				c.config.RedirectURL = "http://localhost:5000/not-registered"
				return b.get(t, c.authorizeURL(newLoginRequest()))
			},
			wantText: "invalid_redirect_uri",
		},
		{
			name: "unknown client id",
			do: func(t *testing.T, tg target, c client, b browser) page {
				c.config.ClientID = "00000000-0000-4000-8000-000000000000"
				return b.get(t, c.authorizeURL(newLoginRequest()))
			},
			wantText: "invalid_client_id",
		},
	}
	tg := newTarget(t)
	c := newClient(t, testContext(t), tg)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.do(t, tg, c, newBrowser(t))
			assert.Less(t, p.Status, 500, "a refusal, not a server error; body:\n%s", p.Body)
			if p.Status >= 300 && p.Status < 400 {
				assert.NotContains(t, p.Location, "code=", "no code for %s", tt.name)
				assert.False(t, strings.HasPrefix(p.Location, tg.RedirectURL), "not sent back to the app; Location %s", p.Location)
			}
			if tt.wantText != "" {
				assert.Contains(t, p.Body, tt.wantText)
			}
			if tt.notText != "" {
				assert.NotContains(t, p.Body, tt.notText)
			}
		})
	}
}

// TestContractTokenRefusals: the token endpoint's status and error body.
func TestContractTokenRefusals(t *testing.T) {
	tests := []struct {
		name string
		// exchange spends a fresh code the way the case needs.
		exchange   func(t *testing.T, c client, code string, req loginRequest) error
		wantStatus int
		wantError  string // "" where FusionAuth's exact error is not pinned down
		wantReason string
	}{
		{
			name: "wrong client secret",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				c.config.ClientSecret = "not-the-secret"
				_, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
				return err
			},
			wantStatus: http.StatusUnauthorized,
			wantError:  "invalid_client",
		},
		{
			name: "PKCE verifier does not match",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				_, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
				return err
			},
			wantStatus: http.StatusBadRequest,
			wantReason: "invalid_pkce_code_verifier",
		},
		{
			name: "PKCE verifier missing",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				_, err := c.config.Exchange(testContext(t), code)
				return err
			},
			wantStatus: http.StatusBadRequest,
		},
		{
			name: "code used twice",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				_, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
				require.NoError(t, err, "first use of the code")
				_, err = c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
				return err
			},
			wantStatus: http.StatusBadRequest,
			wantError:  "invalid_grant",
		},
		{
			name: "made-up code",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				_, err := c.config.Exchange(testContext(t), "made-up-code", oauth2.VerifierOption(req.Verifier))
				return err
			},
			wantStatus: http.StatusBadRequest,
			wantError:  "invalid_grant",
		},
		{
			name: "redirect_uri differs from the authorization request",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				c.config.RedirectURL = c.tg.LogoutURL
				_, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
				return err
			},
			wantStatus: http.StatusBadRequest,
		},
	}
	tg := newTarget(t)
	c := newClient(t, testContext(t), tg)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, req := logIn(t, c, newBrowser(t))
			err := tt.exchange(t, c, code, req)
			require.Error(t, err, "the token endpoint must refuse: %s", tt.name)
			te := asTokenError(t, err)
			assert.Equal(t, tt.wantStatus, te.Status, "status")
			assert.NotEmpty(t, te.Error, "error")
			assert.NotEmpty(t, te.Description, "error_description")
			assert.NotEmpty(t, te.Reason, "error_reason")
			if tt.wantError != "" {
				assert.Equal(t, tt.wantError, te.Error)
			}
			if tt.wantReason != "" {
				assert.Equal(t, tt.wantReason, te.Reason)
			}
		})
	}
}

// TestContractAdminAPIAddsRedirectURL is how a test serves the callback on a
// random port, against FusionAuth or the stand-in alike.
func TestContractAdminAPIAddsRedirectURL(t *testing.T) {
	tg := newTarget(t)
	path := "/api/application/" + tg.ClientID
	status, got := adminRequest(t, tg, http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, status)
	original := redirectURLs(t, got)

	added := "http://127.0.0.1:54321/callback"
	patch := map[string]any{"application": map[string]any{"oauthConfiguration": map[string]any{
		"authorizedRedirectURLs": append(slices.Clone(original), added),
	}}}
	status, _ = adminRequest(t, tg, http.MethodPatch, path, patch)
	require.Equal(t, http.StatusOK, status, "PATCH the application")
	t.Cleanup(func() {
		restore := map[string]any{"application": map[string]any{"oauthConfiguration": map[string]any{
			"authorizedRedirectURLs": original,
		}}}
		status, _ := adminRequest(t, tg, http.MethodPatch, path, restore)
		assert.Equal(t, http.StatusOK, status, "restore the redirect URLs")
	})

	tg.RedirectURL = added
	c := newClient(t, testContext(t), tg)
	code, _ := logIn(t, c, newBrowser(t))
	assert.NotEmpty(t, code)

	unauthorized, _ := adminRequest(t, target{URL: tg.URL, APIKey: "wrong-key"}, http.MethodGet, path, nil)
	assert.Equal(t, http.StatusUnauthorized, unauthorized, "the admin API needs the API key")
}

func redirectURLs(t *testing.T, body map[string]any) []string {
	t.Helper()
	app, _ := body["application"].(map[string]any)
	oauth, _ := app["oauthConfiguration"].(map[string]any)
	list, _ := oauth["authorizedRedirectURLs"].([]any)
	var urls []string
	for _, u := range list {
		s, _ := u.(string)
		urls = append(urls, s)
	}
	require.NotEmpty(t, urls, "the application's authorizedRedirectURLs")
	return urls
}

// postLogoutAPI calls the Logout API, POST /api/logout, with no API key, and
// returns its answer.
func postLogoutAPI(t testing.TB, tg target, query url.Values, contentType, body string, cookie *http.Cookie) page {
	t.Helper()
	rawURL := tg.URL + "/api/logout"
	if len(query) > 0 {
		rawURL += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, rawURL, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	return newBrowser(t).do(t, req)
}

// requireRefreshRefused checks that the refresh grant refuses refreshToken.
func requireRefreshRefused(t testing.TB, c client, refreshToken, why string) {
	t.Helper()
	_, err := c.config.TokenSource(testContext(t), &oauth2.Token{RefreshToken: refreshToken}).Token()
	require.Error(t, err, "the refresh grant refuses a refresh token %s", why)
	te := asTokenError(t, err)
	assert.Equal(t, http.StatusBadRequest, te.Status, "status for a refresh token %s", why)
	assert.Equal(t, "invalid_grant", te.Error, "error for a refresh token %s", why)
}

// logInForTokens logs in with b and exchanges the code.
func logInForTokens(t testing.TB, c client, b browser) *oauth2.Token {
	t.Helper()
	code, req := logIn(t, c, b)
	token, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
	require.NoError(t, err, "exchange the code")
	require.NotEmpty(t, token.RefreshToken, "offline_access gives a refresh token")
	return token
}

// TestContractLogoutAPIRevokesTheRefreshToken: POST /api/logout needs no API
// key and revokes the refresh token however it is given.
func TestContractLogoutAPIRevokesTheRefreshToken(t *testing.T) {
	tests := []struct {
		name string
		call func(t *testing.T, tg target, refreshToken string) page
	}{
		{"query string", func(t *testing.T, tg target, rt string) page {
			return postLogoutAPI(t, tg, url.Values{"global": {"false"}, "refreshToken": {rt}}, "", "", nil)
		}},
		{"form body", func(t *testing.T, tg target, rt string) page {
			return postLogoutAPI(t, tg, nil, "application/x-www-form-urlencoded", url.Values{"refreshToken": {rt}}.Encode(), nil)
		}},
		{"JSON body", func(t *testing.T, tg target, rt string) page {
			return postLogoutAPI(t, tg, nil, "application/json", `{"global":false,"refreshToken":"`+rt+`"}`, nil)
		}},
		{"refresh_token cookie", func(t *testing.T, tg target, rt string) page {
			return postLogoutAPI(t, tg, nil, "", "", &http.Cookie{Name: "refresh_token", Value: rt})
		}},
	}
	tg := newTarget(t)
	c := newClient(t, testContext(t), tg)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := logInForTokens(t, c, newBrowser(t))
			p := tt.call(t, tg, token.RefreshToken)
			assert.Equal(t, http.StatusOK, p.Status, "POST /api/logout")
			assert.Empty(t, p.Body, "the Logout API answers with no body")
			requireRefreshRefused(t, c, token.RefreshToken, "revoked through the Logout API by "+tt.name)
		})
	}

	t.Run("nothing to revoke", func(t *testing.T) {
		p := postLogoutAPI(t, tg, url.Values{"refreshToken": {"not-a-refresh-token"}}, "", "", nil)
		assert.Equal(t, http.StatusOK, p.Status, "POST /api/logout with an unknown token")
		assert.Empty(t, p.Body)
		p = postLogoutAPI(t, tg, nil, "", "", nil)
		assert.Equal(t, http.StatusOK, p.Status, "POST /api/logout with no token at all")
	})

	t.Run("another token of the user survives", func(t *testing.T) {
		revoked := logInForTokens(t, c, newBrowser(t))
		kept := logInForTokens(t, c, newBrowser(t))
		p := postLogoutAPI(t, tg, url.Values{"refreshToken": {revoked.RefreshToken}}, "", "", nil)
		require.Equal(t, http.StatusOK, p.Status)
		requireRefreshRefused(t, c, revoked.RefreshToken, "revoked through the Logout API")
		_, err := c.config.TokenSource(testContext(t), &oauth2.Token{RefreshToken: kept.RefreshToken}).Token()
		assert.NoError(t, err, "global=false leaves the user's other refresh tokens alone")
	})
}

// TestContractLogoutAPIGlobal: global=true revokes every refresh token of the
// user and ends their SSO sessions.
func TestContractLogoutAPIGlobal(t *testing.T) {
	tg := newTarget(t)
	c := newClient(t, testContext(t), tg)
	given := logInForTokens(t, c, newBrowser(t))
	other := newBrowser(t)
	otherToken := logInForTokens(t, c, other)

	p := postLogoutAPI(t, tg, url.Values{"global": {"true"}, "refreshToken": {given.RefreshToken}}, "", "", nil)
	require.Equal(t, http.StatusOK, p.Status, "POST /api/logout?global=true")
	assert.Empty(t, p.Body)
	requireRefreshRefused(t, c, given.RefreshToken, "revoked through the Logout API")
	requireRefreshRefused(t, c, otherToken.RefreshToken, "of a user logged out globally")

	again := other.get(t, c.authorizeURL(newLoginRequest()))
	assert.Equal(t, http.StatusOK, again.Status, "the other browser's SSO session has ended: the login page")
	assert.Contains(t, again.Body, `id="loginId"`)
}

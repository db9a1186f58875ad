package fusionauthtest_test

// Contract tests of the tokens: the code exchange, the tokens' claims,
// userinfo, refresh, and the token endpoint's refusals.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// leftHalfHash is the OpenID Connect hash of a value for an RS256 token.
func leftHalfHash(value string) string {
	sum := sha256.Sum256([]byte(value))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// jwtHeader decodes a compact JWT's header without verifying anything.
func jwtHeader(t testing.TB, token string) map[string]any {
	t.Helper()
	encoded, _, ok := strings.Cut(token, ".")
	require.True(t, ok, "a compact JWT")
	data, err := base64.RawURLEncoding.DecodeString(encoded)
	require.NoError(t, err)
	var header map[string]any
	require.NoError(t, json.Unmarshal(data, &header))
	return header
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
	if tg.atLeast(t, "1.69") {
		assert.Equal(t, tg.URL, q.Get("iss"), "RFC 9207 iss in the callback")
	}
	assert.Equal(t, "Authenticated", q.Get("userState"))
	assert.NotEmpty(t, q.Get("locale"))

	token, err := c.config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(req.Verifier))
	require.NoError(t, err, "exchange the code")
	assert.Equal(t, "Bearer", token.TokenType)
	assert.NotEmpty(t, token.RefreshToken, "offline_access gives a refresh token")
	assert.False(t, token.Expiry.IsZero(), "expires_in is set")
	assert.NotEmpty(t, token.Extra("userId"))
	refreshTokenID, _ := token.Extra("refresh_token_id").(string)
	assert.NotEmpty(t, refreshTokenID, "refresh_token_id")

	rawID, ok := token.Extra("id_token").(string)
	require.True(t, ok, "id_token in the token response")
	idToken, err := c.verifier.Verify(ctx, rawID)
	require.NoError(t, err, "verify the ID token")
	require.NoError(t, idToken.VerifyAccessToken(token.AccessToken), "at_hash")
	id := tokenClaims(t, idToken)
	assert.Equal(t, req.Nonce, id["nonce"])
	assert.Equal(t, tg.User, id["email"])
	assert.Contains(t, id, "email_verified", "scope email gives email_verified")
	likely(t, tg, "email_verified of a user the kickstart made with skipVerification (LIKELY email-verified-by-kickstart)", true, id["email_verified"])
	assert.NotEmpty(t, id["given_name"], "profile scope gives name claims")
	assert.NotEmpty(t, id["sid"])
	assert.Equal(t, leftHalfHash(q.Get("code")), id["c_hash"], "c_hash of the code")
	likely(t, tg, "authenticationType of a password login (LIKELY sso-login-ping)", "PASSWORD", id["authenticationType"])
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
	assert.Equal(t, refreshTokenID, access["sid"], "the access token's sid is the refresh token's id")

	// gty is in the JWT header before 1.69 and in the payload from 1.69
	// (LIKELY gty-in-payload, FUSIONAUTH.md): neither place is asserted.
	header := jwtHeader(t, token.AccessToken)
	gtyAt := "payload"
	if !tg.atLeast(t, "1.69") {
		gtyAt = "header"
	}
	likely(t, tg, "where the access token carries gty (LIKELY gty-in-payload)", gtyAt, whereIs("gty", header, access))
	likely(t, tg, "gty of a code grant's access token (LIKELY gty-in-payload)", []any{"authorization_code"}, firstOf("gty", header, access))
	// The header's kid is the kid property of the application's key, not its id.
	status, app := adminRequest(t, tg, http.MethodGet, "/api/application/"+tg.ClientID, nil)
	require.Equal(t, http.StatusOK, status)
	keyID, _ := applicationField(app, "jwtConfiguration", "accessTokenKeyId").(string)
	status, key := adminRequest(t, tg, http.MethodGet, "/api/key/"+keyID, nil)
	require.Equal(t, http.StatusOK, status, "GET the signing key")
	keyProps, _ := key["key"].(map[string]any)
	assert.Equal(t, keyProps["kid"], header["kid"], "the header's kid is the key's kid property")

	info, err := c.provider.UserInfo(ctx, oauth2.StaticTokenSource(token))
	require.NoError(t, err, "userinfo")
	assert.Equal(t, idToken.Subject, info.Subject)
	assert.Equal(t, tg.User, info.Email)
	var infoClaims map[string]any
	require.NoError(t, info.Claims(&infoClaims))
	likely(t, tg, "userinfo's tid (LIKELY userinfo-tid)", tg.TenantID, infoClaims["tid"])

	status, body := refreshRaw(t, c, token.RefreshToken)
	require.Equal(t, http.StatusOK, status, "refresh: %v", body)
	assert.NotEqual(t, token.AccessToken, body["access_token"], "a new access token")
	rawRefreshedID, ok := body["id_token"].(string)
	require.True(t, ok, "id_token in the refresh response")
	refreshedID, err := c.verifier.Verify(ctx, rawRefreshedID)
	require.NoError(t, err, "verify the refreshed ID token")
	assert.Equal(t, idToken.Subject, refreshedID.Subject)
	likely(t, tg, "authenticationType of a refreshed ID token (LIKELY refresh-authentication-type)", "REFRESH_TOKEN", tokenClaims(t, refreshedID)["authenticationType"])
	rawRefreshedAccess, _ := body["access_token"].(string)
	refreshedAccess, err := c.verifier.Verify(ctx, rawRefreshedAccess)
	require.NoError(t, err, "verify the refreshed access token")
	refreshedClaims := tokenClaims(t, refreshedAccess)
	likely(t, tg, "authenticationType of a refreshed access token (LIKELY refresh-authentication-type)", "REFRESH_TOKEN", refreshedClaims["authenticationType"])
	likely(t, tg, "gty of a refreshed access token (LIKELY gty-in-payload)", []any{"authorization_code", "refresh_token"},
		firstOf("gty", jwtHeader(t, rawRefreshedAccess), refreshedClaims))
	// A Reusable refresh answers with the same refresh token and its id
	// (LIKELY refresh-answer-has-token, FUSIONAUTH.md).
	likely(t, tg, "the refresh_token of a Reusable refresh (LIKELY refresh-answer-has-token)", "the same", sameOrNot(token.RefreshToken, body["refresh_token"]))
	likely(t, tg, "the refresh_token_id of a Reusable refresh (LIKELY refresh-answer-has-token)", "the same", sameOrNot(refreshTokenID, body["refresh_token_id"]))

	status, _ = adminRequest(t, tg, http.MethodDelete, "/api/jwt/refresh?token="+url.QueryEscape(token.RefreshToken), nil)
	require.Equal(t, http.StatusOK, status, "revoke the refresh token")
	requireRefreshRefused(t, c, token.RefreshToken, "revoked with DELETE /api/jwt/refresh")
}

// whereIs says where a JWT carries claim: "header", "payload", "both" or "neither".
func whereIs(claim string, header, payload map[string]any) string {
	_, inHeader := header[claim]
	_, inPayload := payload[claim]
	switch {
	case inHeader && inPayload:
		return "both"
	case inHeader:
		return "header"
	case inPayload:
		return "payload"
	}
	return "neither"
}

// firstOf is claim's value in the payload, else in the header, else nil.
func firstOf(claim string, header, payload map[string]any) any {
	if v, ok := payload[claim]; ok {
		return v
	}
	return header[claim]
}

// sameOrNot describes a value against the one before it without printing
// either: they are tokens.
func sameOrNot(before string, now any) string {
	switch now {
	case nil:
		return "none"
	case before:
		return "the same"
	}
	return "a different one"
}

// TestContractUserinfoErrors: a missing token and a bad one.
func TestContractUserinfoErrors(t *testing.T) {
	tg := newTarget(t)
	call := func(t *testing.T, authorization string) page {
		req, err := http.NewRequestWithContext(testContext(t), http.MethodGet, tg.URL+"/oauth2/userinfo", nil)
		require.NoError(t, err)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		return newBrowser(t).do(t, req)
	}
	// Userinfo answers only for an access token whose scope has openid, so
	// these are refused; how is LIKELY userinfo-refusals and LIKELY
	// userinfo-invalid-token (FUSIONAUTH.md).
	t.Run("no Authorization header", func(t *testing.T) {
		p := call(t, "")
		assert.NotEqual(t, http.StatusOK, p.Status, "refused")
		likely(t, tg, "status without a token (LIKELY userinfo-refusals)", http.StatusUnauthorized, p.Status)
		likely(t, tg, "body without a token (LIKELY userinfo-refusals)", "", p.Body)
	})
	t.Run("a token that is no JWT", func(t *testing.T) {
		p := call(t, "Bearer not-a-token")
		assert.NotEqual(t, http.StatusOK, p.Status, "refused")
		likely(t, tg, "status for an invalid token (LIKELY userinfo-refusals)", http.StatusBadRequest, p.Status)
		var e map[string]any
		_ = json.Unmarshal([]byte(p.Body), &e) // a body that is not JSON leaves e empty, which likely reports
		likely(t, tg, "error for an invalid token (LIKELY userinfo-invalid-token)", "invalid_token", e["error"])
		likely(t, tg, "error_reason for an invalid token (LIKELY userinfo-invalid-token)", "access_token_invalid", e["error_reason"])
	})
}

// TestContractTokenRefusals: the token endpoint's status and error body, and
// whether the code is still good afterwards.
func TestContractTokenRefusals(t *testing.T) {
	tests := []struct {
		name string
		// exchange spends a fresh code the way the case needs.
		exchange func(t *testing.T, c client, code string, req loginRequest) error
		// CERTAIN client-auth-refusals (FUSIONAUTH.md); 0 or "" where only
		// the stand-in's model says.
		wantStatus int
		wantError  string
		wantReason string
		// The stand-in's model: status, error and reason (as entry says), and
		// whether the code still works with the right request afterwards
		// (LIKELY code-use-up, FUSIONAUTH.md).
		modelStatus             int
		modelError, modelReason string
		modelCodeUsable         bool
		entry                   string // the FUSIONAUTH.md entry of status, error and reason
	}{
		{
			name: "wrong client secret",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				c.config.ClientSecret = "not-the-secret"
				_, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
				return err
			},
			wantStatus: http.StatusUnauthorized, wantError: "invalid_client", wantReason: "invalid_client_authentication",
			modelStatus: http.StatusUnauthorized, modelError: "invalid_client", modelReason: "invalid_client_authentication", modelCodeUsable: true,
			entry: "CERTAIN client-auth-refusals",
		},
		{
			name: "no client authentication",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				c.config.ClientSecret = ""
				c.config.Endpoint.AuthStyle = oauth2.AuthStyleInParams
				_, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
				return err
			},
			wantStatus: http.StatusUnauthorized, wantError: "invalid_client", wantReason: "client_authentication_missing",
			modelStatus: http.StatusUnauthorized, modelError: "invalid_client", modelReason: "client_authentication_missing", modelCodeUsable: true,
			entry: "CERTAIN client-auth-refusals",
		},
		{
			name: "PKCE verifier does not match",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				_, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
				return err
			},
			modelStatus: http.StatusBadRequest, modelError: "invalid_request", modelReason: "auth_code_not_found",
			entry: "LIKELY code-refusals",
		},
		{
			name: "PKCE verifier malformed",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				_, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption("too-short"))
				return err
			},
			modelStatus: http.StatusBadRequest, modelError: "invalid_request", modelReason: "invalid_pkce_code_verifier", modelCodeUsable: true,
			entry: "LIKELY code-refusals",
		},
		{
			name: "PKCE verifier missing",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				_, err := c.config.Exchange(testContext(t), code)
				return err
			},
			modelStatus: http.StatusUnauthorized, modelError: "invalid_client", modelReason: "missing_code_verifier", modelCodeUsable: true,
			entry: "LIKELY missing-verifier",
		},
		{
			name: "code used twice",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				_, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
				require.NoError(t, err, "first use of the code")
				_, err = c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
				return err
			},
			modelStatus: http.StatusBadRequest, modelError: "invalid_request", modelReason: "auth_code_not_found",
			entry: "LIKELY code-refusals",
		},
		{
			name: "made-up code",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				_, err := c.config.Exchange(testContext(t), "made-up-code", oauth2.VerifierOption(req.Verifier))
				return err
			},
			modelStatus: http.StatusBadRequest, modelError: "invalid_request", modelReason: "auth_code_not_found", modelCodeUsable: true,
			entry: "LIKELY code-refusals",
		},
		{
			name: "redirect_uri differs from the authorization request",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				c.config.RedirectURL = c.tg.LogoutURL // authorized, but not the one the code was issued for
				_, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
				return err
			},
			modelStatus: http.StatusBadRequest, modelError: "invalid_request", modelReason: "auth_code_not_found",
			entry: "LIKELY code-refusals",
		},
		{
			name: "redirect_uri not authorized at all",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				c.config.RedirectURL = "https://evil.example.com/callback"
				_, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
				return err
			},
			modelStatus: http.StatusBadRequest, modelError: "invalid_grant", modelReason: "invalid_redirect_uri", modelCodeUsable: true,
			entry: "LIKELY code-refusals",
		},
	}
	tg := newTarget(t)
	c := newClient(t, testContext(t), tg)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, req := logIn(t, c, newBrowser(t))
			err := tt.exchange(t, c, code, req)
			require.Error(t, err, "the token endpoint must refuse: %s", tt.name)
			// Documented for every refusal: 400 or 401 with error,
			// error_description and error_reason.
			te := asTokenError(t, err)
			assert.True(t, te.Status == http.StatusBadRequest || te.Status == http.StatusUnauthorized, "status %d", te.Status)
			if tt.wantStatus != 0 {
				assert.Equal(t, tt.wantStatus, te.Status, "status")
			}
			assert.NotEmpty(t, te.Error, "error")
			assert.NotEmpty(t, te.Description, "error_description")
			assert.NotEmpty(t, te.Reason, "error_reason")
			if tt.wantError != "" {
				assert.Equal(t, tt.wantError, te.Error)
			}
			if tt.wantReason != "" {
				assert.Equal(t, tt.wantReason, te.Reason)
			}
			likely(t, tg, tt.name+": status ("+tt.entry+")", tt.modelStatus, te.Status)
			likely(t, tg, tt.name+": error ("+tt.entry+")", tt.modelError, te.Error)
			likely(t, tg, tt.name+": error_reason ("+tt.entry+")", tt.modelReason, te.Reason)

			_, retry := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
			likely(t, tg, tt.name+": the code still works afterwards (LIKELY code-use-up)", tt.modelCodeUsable, retry == nil)
		})
	}
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

// TestContractOneTimeUseRefresh: under OneTimeUse a refresh answers with a new
// refresh token and the used one is refused; the refresh token keeps its id,
// and so the access token its sid (LIKELY one-time-use-keeps-id, FUSIONAUTH.md).
func TestContractOneTimeUseRefresh(t *testing.T) {
	tg := newTarget(t)
	setPolicy := func(policy string) int {
		status, _ := adminRequest(t, tg, http.MethodPatch, "/api/application/"+tg.ClientID, map[string]any{
			"application": map[string]any{"jwtConfiguration": map[string]any{"refreshTokenUsagePolicy": policy}},
		})
		return status
	}
	require.Equal(t, http.StatusOK, setPolicy("OneTimeUse"), "PATCH refreshTokenUsagePolicy")
	t.Cleanup(func() { assert.Equal(t, http.StatusOK, setPolicy("Reusable"), "restore FusionAuth's default policy") })

	ctx := testContext(t)
	c := newClient(t, ctx, tg)
	token := logInForTokens(t, c, newBrowser(t))
	firstID, _ := token.Extra("refresh_token_id").(string)
	require.NotEmpty(t, firstID, "refresh_token_id")

	status, body := refreshRaw(t, c, token.RefreshToken)
	require.Equal(t, http.StatusOK, status, "refresh: %v", body)
	next, _ := body["refresh_token"].(string)
	require.NotEmpty(t, next, "OneTimeUse: a new refresh token")
	assert.NotEqual(t, token.RefreshToken, next, "OneTimeUse: a new refresh token")
	likely(t, tg, "the refresh_token_id of a OneTimeUse refresh (LIKELY one-time-use-keeps-id)", "the same", sameOrNot(firstID, body["refresh_token_id"]))
	rawAccess, _ := body["access_token"].(string)
	access, err := c.verifier.Verify(ctx, rawAccess)
	require.NoError(t, err, "verify the refreshed access token")
	likely(t, tg, "the sid of a OneTimeUse refresh's access token (LIKELY one-time-use-keeps-id)", "the same", sameOrNot(firstID, tokenClaims(t, access)["sid"]))

	requireRefreshRefused(t, c, token.RefreshToken, "used once under OneTimeUse")
	status, body = refreshRaw(t, c, next)
	assert.Equal(t, http.StatusOK, status, "the new refresh token works: %v", body)
}

// TestContractAccessTokenWithoutRefreshToken: without offline_access there is
// no refresh token (LIKELY offline-access-for-refresh), and so nothing for the
// access token's sid to name (LIKELY sid-only-when-named, FUSIONAUTH.md).
func TestContractAccessTokenWithoutRefreshToken(t *testing.T) {
	tg := newTarget(t)
	ctx := testContext(t)
	c := newClient(t, ctx, tg)
	c.config.Scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	code, req := logIn(t, c, newBrowser(t))
	token, err := c.config.Exchange(ctx, code, oauth2.VerifierOption(req.Verifier))
	require.NoError(t, err, "exchange the code")
	likely(t, tg, "a refresh token without offline_access (LIKELY offline-access-for-refresh)", false, token.RefreshToken != "")
	access, err := c.verifier.Verify(ctx, token.AccessToken)
	require.NoError(t, err, "verify the access token as a JWT")
	likely(t, tg, "the access token of a login without a refresh token has a sid (LIKELY sid-only-when-named)", false, hasClaim(tokenClaims(t, access), "sid"))
}

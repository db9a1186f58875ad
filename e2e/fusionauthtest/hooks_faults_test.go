package fusionauthtest_test

// The faults: the stand-in misbehaving on purpose, one way at a time, as the
// OpenID Foundation's relying-party tests do.

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
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
			assert.Equal(t, tg.URL, r.callback.Get("iss"), "an error redirect names its issuer")
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

func TestAllFaultsHaveNames(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range fusionauthtest.AllFaults() {
		name := f.String()
		assert.True(t, strings.HasPrefix(name, "Fault") && name != "Fault(unknown)", "fault %d has a name", f)
		assert.False(t, seen[name], "duplicate %s", name)
		seen[name] = true
	}
}

// discoveryDocument reads the target's discovery document as it is now.
func discoveryDocument(t *testing.T, tg target) map[string]any {
	t.Helper()
	p := newBrowser(t).get(t, tg.URL+"/.well-known/openid-configuration")
	require.Equal(t, http.StatusOK, p.Status)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(p.Body), &doc))
	return doc
}

// revocationAuth is how a revocation request authenticates its client.
type revocationAuth struct {
	basic        bool // the Basic header, else client_id and client_secret in the form
	id, secret   string
	omitIdentity bool // no client authentication at all
}

// revoke posts form to the revocation endpoint, authenticated as auth says.
func revoke(t *testing.T, tg target, method string, form url.Values, auth revocationAuth) page {
	t.Helper()
	form = maps.Clone(form)
	if !auth.omitIdentity && !auth.basic {
		form.Set("client_id", auth.id)
		form.Set("client_secret", auth.secret)
	}
	req, err := http.NewRequestWithContext(testContext(t), method, tg.URL+fusionauthtest.RevocationEndpointPath, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if !auth.omitIdentity && auth.basic {
		req.SetBasicAuth(auth.id, auth.secret)
	}
	return newBrowser(t).do(t, req)
}

// TestRevocationEndpoint: FaultAdvertiseRevocationEndpoint adds RFC 7009 token
// revocation, which FusionAuth lacks. A revoked refresh token stops working;
// anything else leaves it working; client authentication is the token
// endpoint's. Without the fault there is no such endpoint.
func TestRevocationEndpoint(t *testing.T) {
	tg := stub(t)
	c := newClient(t, testContext(t), tg)
	const otherID, otherSecret = "00000000-0000-4000-8000-0000000000b7", "the-other-clients-secret"
	status, _ := adminRequest(t, tg, http.MethodPost, "/api/application/"+otherID, map[string]any{
		"application": map[string]any{"name": "Other", "oauthConfiguration": map[string]any{
			"clientSecret": otherSecret, "authorizedRedirectURLs": []string{"http://other.example/callback"},
		}},
	})
	require.Equal(t, http.StatusOK, status, "a second client")
	changebank := revocationAuth{basic: true, id: tg.ClientID, secret: tg.ClientSecret}

	t.Run("off by default", func(t *testing.T) {
		token := logInForTokens(t, c, newBrowser(t))
		assert.NotContains(t, discoveryDocument(t, tg), "revocation_endpoint", "FusionAuth advertises none")
		p := revoke(t, tg, http.MethodPost, url.Values{"token": {token.RefreshToken}}, changebank)
		assert.Equal(t, http.StatusNotFound, p.Status, "as an unknown path")
		status, body := refreshRaw(t, c, token.RefreshToken)
		assert.Equal(t, http.StatusOK, status, "the refresh token still works: %v", body)
	})

	tg.Stub.InjectFault(fusionauthtest.FaultAdvertiseRevocationEndpoint)
	defer tg.Stub.ClearFaults()
	t.Run("advertised", func(t *testing.T) {
		doc := discoveryDocument(t, tg)
		assert.Equal(t, tg.URL+fusionauthtest.RevocationEndpointPath, doc["revocation_endpoint"])
		assert.Equal(t, doc["token_endpoint_auth_methods_supported"], doc["revocation_endpoint_auth_methods_supported"])
	})

	tests := []struct {
		name        string
		method      string
		form        func(token *oauth2.Token) url.Values
		auth        revocationAuth
		wantStatus  int
		wantError   string // the OAuth error of a refusal
		wantRevoked bool
	}{
		{name: "refresh token, Basic", form: refreshTokenForm(""), auth: changebank, wantStatus: http.StatusOK, wantRevoked: true},
		{name: "refresh token, hinted", form: refreshTokenForm("refresh_token"), auth: changebank, wantStatus: http.StatusOK, wantRevoked: true},
		{name: "refresh token, wrongly hinted", form: refreshTokenForm("access_token"), auth: changebank, wantStatus: http.StatusOK, wantRevoked: true},
		{name: "refresh token, secret in the form", form: refreshTokenForm(""),
			auth: revocationAuth{id: tg.ClientID, secret: tg.ClientSecret}, wantStatus: http.StatusOK, wantRevoked: true},
		{name: "positive control: an unknown token", form: func(*oauth2.Token) url.Values { return url.Values{"token": {"no-such-token"}} },
			auth: changebank, wantStatus: http.StatusOK},
		{name: "an access token, which the stand-in does not track", auth: changebank, wantStatus: http.StatusOK,
			form: func(token *oauth2.Token) url.Values { return url.Values{"token": {token.AccessToken}} }},
		{name: "wrong secret", form: refreshTokenForm(""), auth: revocationAuth{basic: true, id: tg.ClientID, secret: "wrong"},
			wantStatus: http.StatusUnauthorized, wantError: "invalid_client"},
		{name: "no client authentication", form: refreshTokenForm(""), auth: revocationAuth{omitIdentity: true},
			wantStatus: http.StatusUnauthorized, wantError: "invalid_client"},
		{name: "another client's refresh token", form: refreshTokenForm(""), auth: revocationAuth{basic: true, id: otherID, secret: otherSecret},
			wantStatus: http.StatusBadRequest, wantError: "unauthorized_client"},
		{name: "no token", form: func(*oauth2.Token) url.Values { return url.Values{} }, auth: changebank,
			wantStatus: http.StatusBadRequest, wantError: "invalid_request"},
		{name: "GET", method: http.MethodGet, form: refreshTokenForm(""), auth: changebank, wantStatus: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := logInForTokens(t, c, newBrowser(t))
			bystander := logInForTokens(t, c, newBrowser(t))
			method := cmp.Or(tt.method, http.MethodPost)
			tg.Stub.ResetRequests()

			p := revoke(t, tg, method, tt.form(token), tt.auth)
			assert.Equal(t, tt.wantStatus, p.Status, "body: %s", p.Body)
			if tt.wantError != "" {
				var body tokenError
				require.NoError(t, json.Unmarshal([]byte(p.Body), &body), "an OAuth error body: %s", p.Body)
				assert.Equal(t, tt.wantError, body.Error)
			}
			if tt.wantStatus == http.StatusUnauthorized && tt.auth.basic {
				assert.Equal(t, "Basic", p.Header.Get("WWW-Authenticate"), "the token endpoint's challenge")
			}
			assert.Equal(t, 1, countRequests(tg.Stub.Requests(), method, fusionauthtest.RevocationEndpointPath), "the call is recorded")

			status, body := refreshRaw(t, c, token.RefreshToken)
			if tt.wantRevoked {
				assert.Equal(t, http.StatusBadRequest, status, "the revoked refresh token is refused: %v", body)
				assert.Equal(t, "invalid_grant", body["error"])
			} else {
				assert.Equal(t, http.StatusOK, status, "the refresh token still works: %v", body)
			}
			status, body = refreshRaw(t, c, bystander.RefreshToken)
			assert.Equal(t, http.StatusOK, status, "another login's refresh token still works: %v", body)
		})
	}
}

// refreshTokenForm names the login's refresh token, with a hint unless hint is "".
func refreshTokenForm(hint string) func(token *oauth2.Token) url.Values {
	return func(token *oauth2.Token) url.Values {
		form := url.Values{"token": {token.RefreshToken}}
		if hint != "" {
			form.Set("token_type_hint", hint)
		}
		return form
	}
}

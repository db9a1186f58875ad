package fusionauthtest_test

// Contract tests: FusionAuth's behaviour as the application relies on it. They
// use only HTTP, an x/oauth2 + go-oidc client and the admin API, so they run
// unchanged against a real FusionAuth:
//
//	FUSIONAUTH_URL=http://localhost:9011 go test -v ./e2e/fusionauthtest -run Contract
//
// (FUSIONAUTH_API_KEY defaults to the kickstart's key; FUSIONAUTH_VERSION, else
// .env, says which version's markup to expect.) They assert what FusionAuth
// documents. Where it only LIKELY behaves some way, likely() asserts the
// stand-in's model against the stand-in and, against FusionAuth, prints an
// "observed:" line instead of failing on a guess.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
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
		Issuer           string   `json:"issuer"`
		Authorization    string   `json:"authorization_endpoint"`
		Token            string   `json:"token_endpoint"`
		Userinfo         string   `json:"userinfo_endpoint"`
		JWKS             string   `json:"jwks_uri"`
		EndSession       string   `json:"end_session_endpoint"`
		ChallengeMethods []string `json:"code_challenge_methods_supported"`
		TokenAuthMethods []string `json:"token_endpoint_auth_methods_supported"`
		Scopes           []string `json:"scopes_supported"`
		ResponseTypes    []string `json:"response_types_supported"`
		Claims           []string `json:"claims_supported"`
	}
	require.NoError(t, c.provider.Claims(&doc))
	var raw map[string]any
	require.NoError(t, c.provider.Claims(&raw))
	assert.Equal(t, tg.URL, doc.Issuer)
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
	// The lists as 1.69 documents them; older versions are not pinned down here.
	if tg.atLeast(t, "1.69") {
		for _, rt := range []string{"code", "id_token", "token id_token"} {
			assert.Contains(t, doc.ResponseTypes, rt, "response_types_supported")
		}
		for _, claim := range []string{"applicationId", "authenticationType", "roles"} {
			assert.Contains(t, doc.Claims, claim, "claims_supported")
		}
		assert.Equal(t, false, raw["backchannel_logout_supported"], "backchannel_logout_supported")
		// Since 1.69 every authorization response carries iss (RFC 9207); the
		// complete application refuses a code without iss when this is advertised.
		for _, field := range []string{"dpop_signing_alg_values_supported", "userinfo_signing_alg_values_supported"} {
			assert.Contains(t, raw, field)
		}
		likely(t, tg, "authorization_response_iss_parameter_supported", true, raw["authorization_response_iss_parameter_supported"])
	}

	b := newBrowser(t)
	jwks := b.get(t, doc.JWKS)
	assert.Equal(t, http.StatusOK, jwks.Status)
	assert.Contains(t, jwks.Body, `"RS256"`, "JWKS publishes the kickstart's RS256 key")

	status := b.get(t, tg.URL+"/api/status")
	assert.Equal(t, http.StatusOK, status.Status, "/api/status")
	assert.JSONEq(t, `{"status":"ok"}`, status.Body, "/api/status without an API key")
	code, report := adminRequest(t, tg, http.MethodGet, "/api/status", nil)
	assert.Equal(t, http.StatusOK, code, "/api/status with the API key")
	assert.Greater(t, len(report), 1, "with an API key /api/status reports more than its status: %v", report)
	health := b.get(t, tg.URL+"/api/health")
	assert.Equal(t, http.StatusOK, health.Status, "/api/health")
}

// TestContractLoginPage checks the markup the browser suite's selectors rely
// on, for the version under test (the hosted pages changed at 1.62, 1.63, 1.64).
func TestContractLoginPage(t *testing.T) {
	tg := newTarget(t)
	c := newClient(t, testContext(t), tg)
	req := newLoginRequest()
	p := newBrowser(t).get(t, c.authorizeURL(req))

	require.Equal(t, http.StatusOK, p.Status)
	if tg.atLeast(t, "1.64") {
		assert.Regexp(t, `<title>\s*Login\s*</title>`, p.Body)
	} else {
		assert.Regexp(t, `<title>\s*Login \| FusionAuth\s*</title>`, p.Body)
	}
	assert.Regexp(t, `<form[^>]*action="/oauth2/authorize"[^>]*method="POST"|<form[^>]*method="POST"[^>]*action="/oauth2/authorize"`, p.Body)
	assert.Regexp(t, `<input[^>]*id="loginId"`, p.Body)
	assert.Regexp(t, `<input[^>]*id="loginId"[^>]*placeholder="Login"|<input[^>]*placeholder="Login"[^>]*id="loginId"`, p.Body, "the field says Login, not Email")
	assert.Regexp(t, `<input[^>]*id="password"`, p.Body)
	if tg.atLeast(t, "1.62") {
		assert.Regexp(t, `<button[^>]*type="button"`, p.Body, "show-password button")
	} else {
		assert.Regexp(t, `<button[^>]*class="blue button"`, p.Body, "the submit button before the redesign")
	}
	if tg.atLeast(t, "1.63") {
		assert.Regexp(t, `<button[^>]*id="submit-button"`, p.Body)
	}
	assert.Regexp(t, `form[^>]*action="/oauth2/authorize"(?s:.*)<button`, p.Body, "the form has a button a browser can submit with")
	assert.Contains(t, p.Body, "Keep me signed in")
	likely(t, tg, `the login field's label says "Login"`, true, regexp.MustCompile(`<label[^>]*for="loginId"[^>]*>\s*Login\s*<`).MatchString(p.Body))

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

// TestContractLoginGoesThroughConsent: since 1.50 the login POST answers with a
// redirect to /oauth2/consent, which sets the SSO cookie and sends the code to
// the application. A browser does not notice.
func TestContractLoginGoesThroughConsent(t *testing.T) {
	tg := newTarget(t)
	c := newClient(t, testContext(t), tg)
	b := newBrowser(t)
	req := newLoginRequest()
	form := loginForm(t, b.get(t, c.authorizeURL(req)).Body)
	form.Set("loginId", tg.User)
	form.Set("password", tg.Password)
	form.Set("rememberDevice", "true")

	post := b.postForm(t, tg.URL+"/oauth2/authorize", form)
	require.Equal(t, http.StatusFound, post.Status, "the login POST redirects; body:\n%s", post.Body)
	consent, err := url.Parse(tg.URL)
	require.NoError(t, err)
	consent, err = consent.Parse(post.Location)
	require.NoError(t, err)
	assert.Equal(t, "/oauth2/consent", consent.Path, "the login POST redirects to the consent step")
	assert.Nil(t, cookieNamed(post.Cookies, "fusionauth.sso"), "the SSO cookie is not set on the POST")

	answer := b.get(t, consent.String())
	q := callback(t, tg, answer)
	assert.Equal(t, req.State, q.Get("state"))
	assert.NotEmpty(t, q.Get("code"))
	sso := cookieNamed(answer.Cookies, "fusionauth.sso")
	require.NotNil(t, sso, "the consent step sets fusionauth.sso")
	assert.Greater(t, sso.MaxAge, 0, "fusionauth.sso is a persistent cookie")
	likely(t, tg, "fusionauth.sso Max-Age", 2147483647, sso.MaxAge)
}

// TestContractKeepMeSignedInUnticked: without "Keep me signed in" there is no
// SSO session, so the next authorization request shows the form again.
func TestContractKeepMeSignedInUnticked(t *testing.T) {
	tg := newTarget(t)
	c := newClient(t, testContext(t), tg)
	b := newBrowser(t)
	callback(t, tg, b.loginRemembering(t, tg, c.authorizeURL(newLoginRequest()), tg.User, tg.Password, false))
	next := b.authorize(t, tg, c.authorizeURL(newLoginRequest()))
	assert.Equal(t, http.StatusOK, next.Status, "the login form again, not a redirect to %s", next.Location)
	assert.Contains(t, next.Body, `id="loginId"`)
}

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
	assert.Equal(t, true, id["email_verified"])
	assert.NotEmpty(t, id["given_name"], "profile scope gives name claims")
	assert.NotEmpty(t, id["sid"])
	assert.Equal(t, leftHalfHash(q.Get("code")), id["c_hash"], "c_hash of the code")
	assert.Equal(t, "PASSWORD", id["authenticationType"])
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

	// The header: gty, and the kid property of the application's key (not its id).
	header := jwtHeader(t, token.AccessToken)
	assert.Contains(t, header["gty"], "authorization_code", "gty in the JWT header")
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

	status, body := refreshRaw(t, c, token.RefreshToken)
	require.Equal(t, http.StatusOK, status, "refresh: %v", body)
	assert.NotEqual(t, token.AccessToken, body["access_token"], "a new access token")
	rawRefreshedID, ok := body["id_token"].(string)
	require.True(t, ok, "id_token in the refresh response")
	refreshedID, err := c.verifier.Verify(ctx, rawRefreshedID)
	require.NoError(t, err, "verify the refreshed ID token")
	assert.Equal(t, idToken.Subject, refreshedID.Subject)
	// Sources disagree whether a Reusable refresh answers with the refresh token.
	likely(t, tg, "the refresh_token of a Reusable refresh", "the same", sameOrNot(token.RefreshToken, body["refresh_token"]))
	likely(t, tg, "the refresh_token_id of a Reusable refresh", "the same", sameOrNot(refreshTokenID, body["refresh_token_id"]))

	status, _ = adminRequest(t, tg, http.MethodDelete, "/api/jwt/refresh?token="+url.QueryEscape(token.RefreshToken), nil)
	require.Equal(t, http.StatusOK, status, "revoke the refresh token")
	requireRefreshRefused(t, c, token.RefreshToken, "revoked with DELETE /api/jwt/refresh")
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

// logoutFrames are the iframe URLs of a "Logging out" page.
func logoutFrames(t testing.TB, body string) []*url.URL {
	t.Helper()
	var frames []*url.URL
	for _, m := range regexp.MustCompile(`<iframe[^>]*src="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		u, err := url.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
		require.NoError(t, err, "iframe src %q", m[1])
		frames = append(frames, u)
	}
	return frames
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
	q := callback(t, tg, b.authorize(t, tg, c.authorizeURL(again)))
	assert.Equal(t, again.State, q.Get("state"), "SSO: straight back with a code")
	require.NotEmpty(t, q.Get("code"))
	ssoToken, err := c.config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(again.Verifier))
	require.NoError(t, err)
	ssoID, err := c.verifier.Verify(ctx, ssoToken.Extra("id_token").(string))
	require.NoError(t, err)
	likely(t, tg, "authenticationType of a login through the SSO session", "PING", tokenClaims(t, ssoID)["authenticationType"])

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
	assert.Regexp(t, `(?i)http-equiv="refresh"`, p.Body)
	assert.Contains(t, p.Body, tg.LogoutURL+"?state=logout-state", "redirect to post_logout_redirect_uri with state")

	var framedApp, framedAdmin bool
	for _, frame := range logoutFrames(t, p.Body) {
		switch {
		case strings.HasPrefix(frame.String(), tg.LogoutURL):
			framedApp = true
		case frame.Path == "/admin/single-logout":
			framedAdmin = true
			likely(t, tg, "the admin application's iframe carries iss", tg.URL, frame.Query().Get("iss"))
			likely(t, tg, "the admin application's iframe carries sid", true, frame.Query().Get("sid") != "")
		}
	}
	likely(t, tg, "the application the page redirects to is also framed", false, framedApp)
	likely(t, tg, "the FusionAuth admin application is framed", true, framedAdmin)

	after := b.get(t, c.authorizeURL(newLoginRequest()))
	assert.Equal(t, http.StatusOK, after.Status, "after logout the login page is shown again")
	assert.Contains(t, after.Body, `id="loginId"`)
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

// TestContractLogoutRequests: what FusionAuth does with an id_token_hint, and
// without any client.
func TestContractLogoutRequests(t *testing.T) {
	tg := newTarget(t)
	ctx := testContext(t)
	c := newClient(t, ctx, tg)
	token := logInForTokens(t, c, newBrowser(t))
	hint := token.Extra("id_token").(string)
	tampered := hint[:len(hint)-4] + "AAAA"

	tests := []struct {
		name       string
		params     url.Values
		wantStatus int // modelled (LIKELY)
		wantReason string
		wantTarget string
	}{
		{name: "no client_id and no hint", params: url.Values{"post_logout_redirect_uri": {tg.LogoutURL}},
			wantStatus: http.StatusFound, wantTarget: "/"},
		{name: "a hint that does not verify, with client_id", params: url.Values{"client_id": {tg.ClientID}, "id_token_hint": {tampered}},
			wantStatus: http.StatusBadRequest, wantReason: "invalid_id_token_hint"},
		{name: "a hint for another client", params: url.Values{"client_id": {"3c219e58-ed0e-4b18-ad48-f4f92793ae32"}, "id_token_hint": {hint}},
			wantStatus: http.StatusBadRequest, wantReason: "invalid_id_token_hint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newBrowser(t).get(t, tg.URL+"/oauth2/logout?"+tt.params.Encode())
			assert.Less(t, p.Status, 500, "a clear answer, not a server error")
			assert.NotEqual(t, tg.LogoutURL, p.Location, "never sent to post_logout_redirect_uri here")
			likely(t, tg, tt.name+": status", tt.wantStatus, p.Status)
			if tt.wantTarget != "" {
				likely(t, tg, tt.name+": redirect target", tt.wantTarget, p.Location)
			}
			if tt.wantReason != "" {
				likely(t, tg, tt.name+": the error page names "+tt.wantReason, true, strings.Contains(p.Body, tt.wantReason))
			}
		})
	}
}

// TestContractLoginRefusals: what FusionAuth answers instead of a code.
func TestContractLoginRefusals(t *testing.T) {
	tests := []struct {
		name string
		// do returns the page FusionAuth answers, after its own redirects.
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
				return b.authorize(t, tg, c.authorizeURL(newLoginRequest()))
			},
			wantText: "invalid_redirect_uri",
		},
		{
			name: "unknown client id",
			do: func(t *testing.T, tg target, c client, b browser) page {
				c.config.ClientID = "00000000-0000-4000-8000-000000000000"
				return b.authorize(t, tg, c.authorizeURL(newLoginRequest()))
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

// TestContractErrorPageWording: FusionAuth's OAuth error page.
func TestContractErrorPageWording(t *testing.T) {
	tg := newTarget(t)
	p := newBrowser(t).get(t, tg.URL+"/oauth2/authorize?client_id=00000000-0000-4000-8000-000000000000&response_type=code")
	assert.Less(t, p.Status, 500)
	assert.Regexp(t, `(?i)sorry, your request was malformed`, p.Body)
}

// TestContractUnregisteredUser: a user the application requires to be
// registered gets FusionAuth's page, no code, and no SSO session.
func TestContractUnregisteredUser(t *testing.T) {
	tg := newTarget(t)
	c := newClient(t, testContext(t), tg)
	b := newBrowser(t)
	p := b.login(t, tg, c.authorizeURL(newLoginRequest()), tg.Unregistered, tg.Password)
	assert.False(t, strings.HasPrefix(p.Location, tg.RedirectURL), "nothing reaches the application; Location %s", p.Location)

	var viaNotRegistered bool
	for _, u := range p.Via {
		viaNotRegistered = viaNotRegistered || strings.Contains(u, "/oauth2/authorized-not-registered")
	}
	likely(t, tg, "the login redirects to /oauth2/authorized-not-registered", true, viaNotRegistered)
	likely(t, tg, `the page says "Registration Required"`, true, strings.Contains(p.Body, "Registration Required"))
	likely(t, tg, "no fusionauth.sso cookie", true, cookieNamed(p.Cookies, "fusionauth.sso") == nil || cookieNamed(p.Cookies, "fusionauth.sso").MaxAge < 0)

	// With an SSO session the next request would skip the form.
	next := b.authorize(t, tg, c.authorizeURL(newLoginRequest()))
	likely(t, tg, "after the refusal the login form is shown again (no SSO session)", http.StatusOK, next.Status)
}

// TestContractAuthorizeErrors: bad authorization requests for a known client
// and redirect URI.
func TestContractAuthorizeErrors(t *testing.T) {
	tg := newTarget(t)
	c := newClient(t, testContext(t), tg)
	authorize := func(t *testing.T, edit func(q url.Values)) page {
		u, err := url.Parse(c.authorizeURL(loginRequest{State: "s", Nonce: "n", Verifier: oauth2.GenerateVerifier()}))
		require.NoError(t, err)
		q := u.Query()
		edit(q)
		u.RawQuery = q.Encode()
		return newBrowser(t).get(t, u.String())
	}

	t.Run("unknown scope", func(t *testing.T) {
		q := callback(t, tg, authorize(t, func(q url.Values) { q.Set("scope", "openid not-a-scope") }))
		assert.Equal(t, "unknown_scope", q.Get("error_reason"))
		assert.Contains(t, q.Get("error_description"), "not-a-scope")
		assert.Equal(t, "s", q.Get("state"))
		assert.Empty(t, q.Get("code"))
		likely(t, tg, "error of an unknown scope", "invalid_scope", q.Get("error"))
		if tg.atLeast(t, "1.69") {
			likely(t, tg, "iss on an error redirect", tg.URL, q.Get("iss"))
		}
	})
	t.Run("the reserved address scope is accepted", func(t *testing.T) {
		p := authorize(t, func(q url.Values) { q.Set("scope", "openid address") })
		assert.Equal(t, http.StatusOK, p.Status, "the login page; Location %s", p.Location)
	})
	t.Run("no code_challenge_method means S256", func(t *testing.T) {
		p := authorize(t, func(q url.Values) { q.Del("code_challenge_method") })
		likely(t, tg, "a challenge without method gets the login page", http.StatusOK, p.Status)
	})
	for name, edit := range map[string]func(q url.Values){
		"plain code_challenge_method": func(q url.Values) { q.Set("code_challenge_method", "plain") },
		"malformed code_challenge":    func(q url.Values) { q.Set("code_challenge", "short") },
	} {
		t.Run(name, func(t *testing.T) {
			p := authorize(t, edit)
			assert.Less(t, p.Status, 500)
			assert.NotContains(t, p.Location, "code=", "no code")
			likely(t, tg, name+" gets an error page, not a redirect", true, p.Status >= 400 && p.Status < 500)
		})
	}
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
	t.Run("no Authorization header", func(t *testing.T) {
		p := call(t, "")
		assert.True(t, p.Status == http.StatusUnauthorized || p.Status == http.StatusBadRequest, "status %d", p.Status)
		likely(t, tg, "status without a token", http.StatusUnauthorized, p.Status)
		likely(t, tg, "body without a token", "", p.Body)
	})
	t.Run("a token that is no JWT", func(t *testing.T) {
		p := call(t, "Bearer not-a-token")
		assert.True(t, p.Status == http.StatusUnauthorized || p.Status == http.StatusBadRequest, "status %d", p.Status)
		likely(t, tg, "status for an invalid token", http.StatusBadRequest, p.Status)
		var e map[string]any
		likely(t, tg, "an invalid token gets a JSON OAuth error", true, json.Unmarshal([]byte(p.Body), &e) == nil && e["error"] != nil)
	})
}

// TestContractTokenRefusals: the token endpoint's status and error body, and
// whether the code is still good afterwards.
func TestContractTokenRefusals(t *testing.T) {
	tests := []struct {
		name string
		// exchange spends a fresh code the way the case needs.
		exchange   func(t *testing.T, c client, code string, req loginRequest) error
		wantStatus int    // 0 where FusionAuth's status is not pinned down
		wantError  string // documented; "" where it is not
		wantReason string
		// The stand-in's model (LIKELY): status, error, reason, and whether the
		// code still works with the right request afterwards.
		modelStatus             int
		modelError, modelReason string
		modelCodeUsable         bool
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
		},
		{
			name: "PKCE verifier does not match",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				_, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
				return err
			},
			wantStatus:  http.StatusBadRequest,
			modelStatus: http.StatusBadRequest, modelError: "invalid_request", modelReason: "auth_code_not_found",
		},
		{
			name: "PKCE verifier malformed",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				_, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption("too-short"))
				return err
			},
			wantStatus:  http.StatusBadRequest,
			modelStatus: http.StatusBadRequest, modelError: "invalid_request", modelReason: "invalid_pkce_code_verifier", modelCodeUsable: true,
		},
		{
			name: "PKCE verifier missing",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				_, err := c.config.Exchange(testContext(t), code)
				return err
			},
			modelStatus: http.StatusUnauthorized, modelError: "invalid_client", modelReason: "missing_code_verifier", modelCodeUsable: true,
		},
		{
			name: "code used twice",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				_, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
				require.NoError(t, err, "first use of the code")
				_, err = c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
				return err
			},
			wantStatus:  http.StatusBadRequest,
			modelStatus: http.StatusBadRequest, modelError: "invalid_request", modelReason: "auth_code_not_found",
		},
		{
			name: "made-up code",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				_, err := c.config.Exchange(testContext(t), "made-up-code", oauth2.VerifierOption(req.Verifier))
				return err
			},
			wantStatus:  http.StatusBadRequest,
			modelStatus: http.StatusBadRequest, modelError: "invalid_request", modelReason: "auth_code_not_found", modelCodeUsable: true,
		},
		{
			name: "redirect_uri differs from the authorization request",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				c.config.RedirectURL = c.tg.LogoutURL // authorized, but not the one the code was issued for
				_, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
				return err
			},
			wantStatus:  http.StatusBadRequest,
			modelStatus: http.StatusBadRequest, modelError: "invalid_request", modelReason: "auth_code_not_found",
		},
		{
			name: "redirect_uri not authorized at all",
			exchange: func(t *testing.T, c client, code string, req loginRequest) error {
				c.config.RedirectURL = "https://evil.example.com/callback"
				_, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
				return err
			},
			wantStatus:  http.StatusBadRequest,
			modelStatus: http.StatusBadRequest, modelError: "invalid_grant", modelReason: "invalid_redirect_uri", modelCodeUsable: true,
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
			likely(t, tg, tt.name+": status", tt.modelStatus, te.Status)
			likely(t, tg, tt.name+": error", tt.modelError, te.Error)
			likely(t, tg, tt.name+": error_reason", tt.modelReason, te.Reason)

			_, retry := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
			likely(t, tg, tt.name+": the code still works afterwards", tt.modelCodeUsable, retry == nil)
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

// TestContractRetrieveRegistration: GET /api/user/registration/{userId}/{applicationId}
// answers 200 with the registration for a registered user and 404 otherwise. The e2e
// suite waits on it for the kickstart's last effect.
func TestContractRetrieveRegistration(t *testing.T) {
	tg := newTarget(t)
	// The kickstart's user ids (kickstart/kickstart.json: userUserId and adminUserId).
	const richard, admin = "00000000-0000-0000-0000-111111111111", "00000000-0000-0000-0000-000000000001"
	tests := []struct {
		name       string
		userID     string
		wantStatus int
	}{
		{"registered user", richard, http.StatusOK},
		{"user registered to another application", admin, http.StatusNotFound},
		{"no such user", "00000000-0000-0000-0000-999999999999", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := adminRequest(t, tg, http.MethodGet, "/api/user/registration/"+tt.userID+"/"+tg.ClientID, nil)
			require.Equal(t, tt.wantStatus, status)
			if tt.wantStatus == http.StatusOK {
				reg, _ := body["registration"].(map[string]any)
				assert.Equal(t, tg.ClientID, reg["applicationId"], "the registration names the application")
			}
		})
	}
	status, _ := adminRequest(t, target{URL: tg.URL, APIKey: "wrong-key"}, http.MethodGet, "/api/user/registration/"+richard+"/"+tg.ClientID, nil)
	assert.Equal(t, http.StatusUnauthorized, status, "the admin API needs the API key")
}

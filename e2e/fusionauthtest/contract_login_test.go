package fusionauthtest_test

// Contract tests of the login: the consent step, "Keep me signed in", and what
// FusionAuth answers instead of a code.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

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
	likely(t, tg, "fusionauth.sso Max-Age (LIKELY sso-cookie-max-age)", 2147483647, sso.MaxAge)
}

// TestContractKeepMeSignedInUnticked: without "Keep me signed in" there is no
// SSO session, so the next authorization request shows the form again.
func TestContractKeepMeSignedInUnticked(t *testing.T) {
	tg := newTarget(t)
	ctx := testContext(t)
	c := newClient(t, ctx, tg)
	b := newBrowser(t)
	req := newLoginRequest()
	q := callback(t, tg, b.loginRemembering(t, tg, c.authorizeURL(req), tg.User, tg.Password, false))
	next := b.authorize(t, tg, c.authorizeURL(newLoginRequest()))
	assert.Equal(t, http.StatusOK, next.Status, "the login form again, not a redirect to %s", next.Location)
	assert.Contains(t, next.Body, `id="loginId"`)

	token, err := c.config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(req.Verifier))
	require.NoError(t, err, "exchange the code")
	rawID, ok := token.Extra("id_token").(string)
	require.True(t, ok, "id_token in the token response")
	idToken, err := c.verifier.Verify(ctx, rawID)
	require.NoError(t, err)
	likely(t, tg, "the ID token of a login without an SSO session has a sid (LIKELY sid-only-when-named)", false, hasClaim(tokenClaims(t, idToken), "sid"))
}

// hasClaim reports whether claims has name, whatever its value.
func hasClaim(claims map[string]any, name string) bool {
	_, ok := claims[name]
	return ok
}

// TestContractLoginRefusals: what FusionAuth answers instead of a code.
func TestContractLoginRefusals(t *testing.T) {
	tests := []struct {
		name string
		// do returns the page FusionAuth answers, after its own redirects.
		do       func(t *testing.T, tg target, c client, b browser) page
		wantText string // documented
		// notText must not be on the page: a right password is not refused as a wrong one.
		notText string
		// The stand-in's model of the final status and text on the page, and
		// the FUSIONAUTH.md entry it follows.
		modelStatus int
		modelText   string
		entry       string
	}{
		{
			name: "wrong password",
			do: func(t *testing.T, tg target, c client, b browser) page {
				return b.login(t, tg, c.authorizeURL(newLoginRequest()), tg.User, "not-the-password")
			},
			wantText:    "Invalid login credentials.",
			modelStatus: http.StatusOK, entry: "LIKELY invalid-credentials-status",
		},
		{
			name: "unknown user",
			do: func(t *testing.T, tg target, c client, b browser) page {
				return b.login(t, tg, c.authorizeURL(newLoginRequest()), "nobody@example.com", tg.Password)
			},
			wantText:    "Invalid login credentials.",
			modelStatus: http.StatusOK, entry: "LIKELY invalid-credentials-status",
		},
		{
			name: "user not registered to the application",
			do: func(t *testing.T, tg target, c client, b browser) page {
				return b.login(t, tg, c.authorizeURL(newLoginRequest()), tg.Unregistered, tg.Password)
			},
			notText:     "Invalid login credentials.",
			modelStatus: http.StatusOK, entry: "LIKELY not-registered-page",
		},
		{
			name: "unregistered redirect URI",
			do: func(t *testing.T, tg target, c client, b browser) page {
				c.config.RedirectURL = "http://localhost:5000/not-registered"
				return b.authorize(t, tg, c.authorizeURL(newLoginRequest()))
			},
			wantText:    "your request was malformed",
			modelStatus: http.StatusBadRequest, modelText: "invalid_redirect_uri", entry: "LIKELY error-page",
		},
		{
			name: "unknown client id",
			do: func(t *testing.T, tg target, c client, b browser) page {
				c.config.ClientID = "00000000-0000-4000-8000-000000000000"
				return b.authorize(t, tg, c.authorizeURL(newLoginRequest()))
			},
			wantText:    "your request was malformed",
			modelStatus: http.StatusBadRequest, modelText: "invalid_client_id", entry: "LIKELY error-page",
		},
	}
	tg := newTarget(t)
	c := newClient(t, testContext(t), tg)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.do(t, tg, c, newBrowser(t))
			likely(t, tg, tt.name+": status ("+tt.entry+")", tt.modelStatus, p.Status)
			if tt.modelText != "" {
				likely(t, tg, tt.name+": the page names "+tt.modelText+" ("+tt.entry+")", true, strings.Contains(p.Body, tt.modelText))
			}
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
	likely(t, tg, "status of the error page (LIKELY error-page)", http.StatusBadRequest, p.Status)
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
	likely(t, tg, "the login redirects to /oauth2/authorized-not-registered (LIKELY not-registered-page)", true, viaNotRegistered)
	likely(t, tg, `the page says "Registration Required" (LIKELY not-registered-page)`, true, strings.Contains(p.Body, "Registration Required"))
	likely(t, tg, "no fusionauth.sso cookie (LIKELY not-registered-page)", true, cookieNamed(p.Cookies, "fusionauth.sso") == nil || cookieNamed(p.Cookies, "fusionauth.sso").MaxAge < 0)

	// With an SSO session the next request would skip the form.
	next := b.authorize(t, tg, c.authorizeURL(newLoginRequest()))
	likely(t, tg, "after the refusal the login form is shown again, no SSO session (LIKELY not-registered-page)", http.StatusOK, next.Status)
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
		likely(t, tg, "error of an unknown scope (LIKELY unknown-scope-error)", "invalid_scope", q.Get("error"))
		if tg.atLeast(t, "1.69") {
			likely(t, tg, "iss on an error redirect (LIKELY error-redirect-iss)", tg.URL, q.Get("iss"))
		}
	})
	t.Run("the reserved address scope is accepted", func(t *testing.T) {
		p := authorize(t, func(q url.Values) { q.Set("scope", "openid address") })
		assert.Equal(t, http.StatusOK, p.Status, "the login page; Location %s", p.Location)
	})
	t.Run("no code_challenge_method means S256", func(t *testing.T) {
		p := authorize(t, func(q url.Values) { q.Del("code_challenge_method") })
		likely(t, tg, "a challenge without method gets the login page (LIKELY challenge-method-default)", http.StatusOK, p.Status)
	})
	for name, edit := range map[string]func(q url.Values){
		"plain code_challenge_method": func(q url.Values) { q.Set("code_challenge_method", "plain") },
		"malformed code_challenge":    func(q url.Values) { q.Set("code_challenge", "short") },
	} {
		t.Run(name, func(t *testing.T) {
			p := authorize(t, edit)
			assert.NotContains(t, p.Location, "code=", "no code")
			likely(t, tg, name+" gets an error page, not a redirect (LIKELY pkce-challenge-refusal)", true, p.Status >= 400 && p.Status < 500)
		})
	}

	// LIKELY authorize-param-checks (FUSIONAUTH.md).
	t.Run("no response_type", func(t *testing.T) {
		p := authorize(t, func(q url.Values) { q.Del("response_type") })
		assert.NotContains(t, p.Location, "code=", "no code")
		likely(t, tg, "a missing response_type is sent back to the application (LIKELY authorize-param-checks)", http.StatusFound, p.Status)
		q := redirectQuery(t, p)
		likely(t, tg, "error of a missing response_type (LIKELY authorize-param-checks)", "invalid_request", q.Get("error"))
		likely(t, tg, "error_reason of a missing response_type (LIKELY authorize-param-checks)", "missing_response_type", q.Get("error_reason"))
	})
	t.Run("no redirect_uri and no client_id", func(t *testing.T) {
		p := authorize(t, func(q url.Values) { q.Del("redirect_uri"); q.Del("client_id") })
		assert.NotContains(t, p.Location, "code=", "no code")
		likely(t, tg, "the missing redirect_uri is named before the client_id (LIKELY authorize-param-checks)", true, strings.Contains(p.Body, "missing_redirect_uri"))
	})
	t.Run("a code_challenge of 128 characters", func(t *testing.T) {
		p := authorize(t, func(q url.Values) { q.Set("code_challenge", strings.Repeat("A1-._~", 21)+"xy") })
		likely(t, tg, "a 128-character code_challenge gets the login page (LIKELY authorize-param-checks)", http.StatusOK, p.Status)
	})
}

// redirectQuery is the query of p's Location, empty when it does not redirect.
func redirectQuery(t testing.TB, p page) url.Values {
	t.Helper()
	loc, err := url.Parse(p.Location)
	require.NoError(t, err, "Location %q", p.Location)
	return loc.Query()
}

// TestContractConsentWithoutALogin: the consent step with no login in
// progress never gives a code; FusionAuth sends the browser back to the start
// of a login, or shows its error page for bad parameters (LIKELY
// consent-without-login, FUSIONAUTH.md).
func TestContractConsentWithoutALogin(t *testing.T) {
	tg := newTarget(t)
	tests := []struct {
		name        string
		query       url.Values
		modelStatus int
		modelPath   string // where the redirect goes, "" for a page
	}{
		{"the parameters of a login", url.Values{"client_id": {tg.ClientID}, "redirect_uri": {tg.RedirectURL}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"}},
			http.StatusFound, "/oauth2/authorize"},
		{"an unknown client", url.Values{"client_id": {"00000000-0000-4000-8000-000000000000"}, "redirect_uri": {tg.RedirectURL}, "response_type": {"code"}},
			http.StatusBadRequest, ""},
		{"a redirect_uri that is not authorized", url.Values{"client_id": {tg.ClientID}, "redirect_uri": {"https://evil.example.com/callback"}, "response_type": {"code"}},
			http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newBrowser(t).get(t, tg.URL+"/oauth2/consent?"+tt.query.Encode())
			assert.NotContains(t, p.Location, "code=", "no code without a login")
			likely(t, tg, tt.name+": status (LIKELY consent-without-login)", tt.modelStatus, p.Status)
			path := ""
			if loc, err := url.Parse(p.Location); err == nil && p.Location != "" {
				path = loc.Path
			}
			likely(t, tg, tt.name+": redirect (LIKELY consent-without-login)", tt.modelPath, path)
		})
	}
}

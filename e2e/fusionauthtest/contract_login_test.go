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

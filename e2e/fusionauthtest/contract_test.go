package fusionauthtest_test

// Contract tests: FusionAuth's behaviour as the application relies on it. They
// use only HTTP, an x/oauth2 + go-oidc client and the admin API, so they run
// unchanged against a real FusionAuth:
//
//	FUSIONAUTH_URL=http://localhost:9011 go test -v ./e2e/fusionauthtest -run Contract
//
// (FUSIONAUTH_API_KEY defaults to the kickstart's key; FUSIONAUTH_VERSION, else
// .env, says which version's markup to expect.) They assert only what
// FUSIONAUTH.md marks CERTAIN. Everything LIKELY or UNCERTAIN goes through
// likely(), which asserts the stand-in's model against the stand-in and,
// against FusionAuth, prints an "observed:" line instead of failing on a
// guess. Each likely() names, in its description or its case's name, the
// FUSIONAUTH.md entry it checks, with the entry's mark: "(LIKELY gty-in-payload)".

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
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
		GrantTypes       []string `json:"grant_types_supported"`
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
		likely(t, tg, "authorization_response_iss_parameter_supported (UNCERTAIN iss-parameter-advertised)", true, raw["authorization_response_iss_parameter_supported"])
		for claim, listed := range map[string]bool{
			"sid": false, "tid": false, "auth_time": false,
			"middle_name": true, "nbf": true, "phone_number": true, "picture": true, "preferred_username": true,
		} {
			likely(t, tg, "claims_supported lists "+claim+" (UNCERTAIN discovery-claims)", listed, slices.Contains(doc.Claims, claim))
		}
		likely(t, tg, "grant_types_supported lists client_credentials (UNCERTAIN discovery-claims)", true, slices.Contains(doc.GrantTypes, "client_credentials"))
	}

	b := newBrowser(t)
	jwks := b.get(t, doc.JWKS)
	assert.Equal(t, http.StatusOK, jwks.Status)
	assert.Contains(t, jwks.Body, `"RS256"`, "JWKS publishes the kickstart's RS256 key")

	status := b.get(t, tg.URL+"/api/status")
	assert.Equal(t, http.StatusOK, status.Status, "/api/status")
	// The docs show "ok"; 1.69 answers "Ok" (LIKELY status-ok-capital, FUSIONAUTH.md).
	wantStatus := `{"status":"Ok"}`
	if !tg.atLeast(t, "1.69") {
		wantStatus = `{"status":"ok"}`
	}
	likely(t, tg, "/api/status without an API key (LIKELY status-ok-capital)", wantStatus, compactJSON(status.Body))
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
	likely(t, tg, `the login field's label says "Login" (LIKELY login-label)`, true, regexp.MustCompile(`<label[^>]*for="loginId"[^>]*>\s*Login\s*<`).MatchString(p.Body))

	// The documented hidden fields; the theme carries more, which the tests
	// only log against a real FusionAuth.
	form := loginForm(t, p.Body)
	for name, want := range map[string]string{
		"client_id":      tg.ClientID,
		"redirect_uri":   tg.RedirectURL,
		"state":          req.State,
		"nonce":          req.Nonce,
		"code_challenge": oauth2.S256ChallengeFromVerifier(req.Verifier),
	} {
		assert.Equal(t, want, form.Get(name), "hidden field %s", name)
	}
	for name, want := range map[string]string{
		"response_type":         "code",
		"code_challenge_method": "S256",
		"scope":                 "openid email profile offline_access",
	} {
		likely(t, tg, "hidden field "+name+" (LIKELY login-form-hidden-fields)", want, form.Get(name))
	}
	assert.Regexp(t, `<input[^>]*name="rememberDevice"`, p.Body, "the Keep me signed in checkbox")
}

// compactJSON is body without insignificant white space, or body itself if it
// is not JSON, so that likely() compares documents, not their formatting.
func compactJSON(body string) string {
	var out bytes.Buffer
	if err := json.Compact(&out, []byte(body)); err != nil {
		return body
	}
	return out.String()
}

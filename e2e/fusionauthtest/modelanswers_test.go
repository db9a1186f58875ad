package fusionauthtest_test

// The stand-in's answers against FusionAuth's published model: every answer to
// a walk through everything the stand-in serves is held to the model's type
// for its route, so a field FusionAuth does not have, an enum value it lacks
// or a wrong type fails the check. Faults are left out: they are wrong on purpose.

import (
	"bytes"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"changebank/e2e/fusionauthtest"
)

// answer is one response of the stand-in, as the client received it.
type answer struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
}

// answerLog keeps every answer the stand-in gave behind it.
type answerLog struct {
	mu      sync.Mutex
	answers []answer
}

// capture is an http.ResponseWriter that also keeps what it wrote.
type capture struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *capture) WriteHeader(status int) {
	c.status = status
	c.ResponseWriter.WriteHeader(status)
}

func (c *capture) Write(p []byte) (int, error) {
	c.body.Write(p)
	return c.ResponseWriter.Write(p)
}

// recordedStandin is the in-process stand-in behind a server that logs every answer.
func recordedStandin(t *testing.T) (target, *answerLog) {
	t.Helper()
	log := &answerLog{}
	ts := httptest.NewUnstartedServer(nil)
	s, err := fusionauthtest.New(fusionauthtest.Options{KickstartPath: projectKickstart, Issuer: "http://" + ts.Listener.Addr().String()})
	if err != nil {
		_ = ts.Listener.Close()
	}
	require.NoError(t, err)
	ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &capture{ResponseWriter: w, status: http.StatusOK}
		s.ServeHTTP(c, r)
		log.mu.Lock()
		defer log.mu.Unlock()
		log.answers = append(log.answers, answer{method: r.Method, path: r.URL.Path, status: c.status, header: w.Header().Clone(), body: c.body.Bytes()})
	})
	ts.Start()
	t.Cleanup(ts.Close)
	t.Cleanup(s.Close)
	tg := kickstartTarget(t)
	tg.URL, tg.Stub, tg.Standin, tg.Version = ts.URL, s, true, dotEnvVersion(t)
	return tg, log
}

// answerTypes maps a route and status to the model type of its JSON answer.
// A JSON answer on a route without a type fails the check, so that a new
// route cannot escape it.
var answerTypes = map[string]func(status int) string{
	"GET /.well-known/openid-configuration":           ok("OpenIdConfiguration"),
	"GET /.well-known/jwks.json":                      ok("JWKSResponse"),
	"POST /oauth2/token":                              okOr("AccessToken", "OAuthError"),
	"/oauth2/userinfo":                                okOr("UserinfoResponse", "OAuthError"),
	"/api/status":                                     ok("StatusResponse"),
	"/api/application/{id}":                           okOr("ApplicationResponse", "Errors"),
	"/api/key/{id}":                                   okOr("KeyResponse", "Errors"),
	"/api/key/generate/{id}":                          okOr("KeyResponse", "Errors"),
	"/api/tenant/{id}":                                okOr("TenantResponse", "Errors"),
	"/api/user/registration/{userId}":                 okOr("RegistrationResponse", "Errors"),
	"/api/user/registration/{userId}/{applicationId}": okOr("RegistrationResponse", "Errors"),
	"/api/jwt/refresh":                                okOr("", "Errors"),
	"/api/logout":                                     okOr("", "Errors"),
	"/oauth2/authorize":                               okOr("", "OAuthError"),
	"/oauth2/consent":                                 okOr("", "OAuthError"),
	"/oauth2/logout":                                  okOr("", "OAuthError"),
	"GET /oauth2/authorized-not-registered":           ok(""),
}

func ok(typeName string) func(int) string { return okOr(typeName, "") }

func okOr(success, refusal string) func(int) string {
	return func(status int) string {
		if status < 400 {
			return success
		}
		return refusal
	}
}

var errorPageJSON = regexp.MustCompile(`(?s)<pre id="error"[^>]*>(.*?)</pre>`)

// answerProblems checks one answer: its JSON body (or the JSON on an error
// page) against its route's type, and an error redirect's error and
// error_reason against the enums.
func answerProblems(m publishedModel, routes *http.ServeMux, a answer) []string {
	where := fmt.Sprintf("%s %s → %d", a.method, a.path, a.status)
	var problems []string
	if loc, err := url.Parse(a.header.Get("Location")); err == nil && loc.Query().Has("error") {
		q := loc.Query()
		for _, v := range []struct{ param, enum string }{{"error", "OAuthErrorType"}, {"error_reason", "OAuthErrorReason"}} {
			if !slices.Contains(m.enums[v.enum], q.Get(v.param)) {
				problems = append(problems, fmt.Sprintf("%s: redirect %s %q is not an %s", where, v.param, q.Get(v.param), v.enum))
			}
		}
	}
	body := a.body
	if strings.HasPrefix(a.header.Get("Content-Type"), "text/html") {
		page := errorPageJSON.FindSubmatch(body)
		if page == nil {
			return problems
		}
		body = []byte(html.UnescapeString(string(page[1])))
	} else if len(bytes.TrimSpace(body)) == 0 {
		return problems
	}
	req := httptest.NewRequest(a.method, a.path, nil)
	_, pattern := routes.Handler(req)
	typeName := ""
	if typeOf, known := answerTypes[pattern]; known {
		typeName = typeOf(a.status)
	}
	if typeName == "" {
		return append(problems, where+": a JSON answer on a route the model check has no type for: "+string(body))
	}
	for _, p := range m.check(body, typeName) {
		problems = append(problems, where+" as "+typeName+": "+p)
	}
	return problems
}

func answerRoutes() *http.ServeMux {
	routes := http.NewServeMux()
	for pattern := range answerTypes {
		routes.Handle(pattern, http.NotFoundHandler())
	}
	return routes
}

// TestModelStandinAnswers walks through everything the stand-in serves, its
// refusals included, and checks every answer.
func TestModelStandinAnswers(t *testing.T) {
	m := loadPublishedModel(t)
	tg, log := recordedStandin(t)
	walkTheStandin(t, tg)

	routes := answerRoutes()
	var problems []string
	seen := map[string]bool{}
	for _, a := range log.answers {
		problems = append(problems, answerProblems(m, routes, a)...)
		seen[a.method+" "+a.path] = true
	}
	assert.Empty(t, problems, "the stand-in's answers against FusionAuth %s's model", m.version)
	assert.Greater(t, len(log.answers), 50, "the walk reached the stand-in")

	t.Run("the check fails on answers FusionAuth would not give", func(t *testing.T) {
		planted := []struct {
			name string
			a    answer
			want string
		}{
			{"an unknown field", answer{method: "POST", path: "/oauth2/token", status: 200, header: jsonHeader(),
				body: []byte(`{"access_token":"a","token_type":"Bearer","refreshToken":"r"}`)}, `unknown field "refreshToken" of AccessToken`},
			{"an enum value FusionAuth lacks", answer{method: "POST", path: "/oauth2/token", status: 400, header: jsonHeader(),
				body: []byte(`{"error":"invalid_request","error_reason":"invalid_access_token"}`)}, `"invalid_access_token" is not a value of OAuthErrorReason`},
			{"a wrong type", answer{method: "GET", path: "/.well-known/openid-configuration", status: 200, header: jsonHeader(),
				body: []byte(`{"backchannel_logout_supported":"false"}`)}, `want a boolean, got a string`},
			{"an error redirect's reason", answer{method: "GET", path: "/oauth2/authorize", status: 302,
				header: http.Header{"Location": {"http://localhost:5000/callback?error=invalid_request&error_reason=invalid_scope"}}},
				`redirect error_reason "invalid_scope" is not an OAuthErrorReason`},
			{"an error page's JSON", answer{method: "GET", path: "/oauth2/authorize", status: 400,
				header: http.Header{"Content-Type": {"text/html;charset=UTF-8"}},
				body:   []byte(`<pre id="error" class="x">{&#34;error&#34;:&#34;invalid_request&#34;,&#34;error_reason&#34;:&#34;invalid_scope&#34;}</pre>`)},
				`$.error_reason: "invalid_scope" is not a value of OAuthErrorReason`},
			{"JSON on a route without a type", answer{method: "GET", path: "/api/webhook", status: 200, header: jsonHeader(), body: []byte(`{}`)},
				"a JSON answer on a route the model check has no type for"},
		}
		for _, p := range planted {
			found := answerProblems(m, routes, p.a)
			assert.True(t, slices.ContainsFunc(found, func(s string) bool { return strings.Contains(s, p.want) }),
				"%s: want a problem containing %q, got %q", p.name, p.want, found)
		}
	})
}

func jsonHeader() http.Header {
	return http.Header{"Content-Type": {"application/json;charset=UTF-8"}}
}

// walkTheStandin makes every kind of request the stand-in answers, with
// the refusals each endpoint can give.
func walkTheStandin(t *testing.T, tg target) {
	t.Helper()
	ctx := testContext(t)
	c := newClient(t, ctx, tg) // discovery
	b := newBrowser(t)
	b.get(t, tg.URL+"/.well-known/jwks.json")
	b.get(t, tg.URL+"/api/status")
	adminRequest(t, tg, http.MethodGet, "/api/status", nil)

	// The code grant, userinfo and the refresh grant, Reusable then OneTimeUse.
	token := logInForTokens(t, c, b)
	userinfo := func(authorization string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, tg.URL+"/oauth2/userinfo", nil)
		require.NoError(t, err)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		newBrowser(t).do(t, req)
	}
	userinfo("Bearer " + token.AccessToken)
	userinfo("")
	userinfo("Bearer not-a-token")
	refreshRaw(t, c, token.RefreshToken)
	refreshRaw(t, c, "not-a-refresh-token")
	appPath := "/api/application/" + tg.ClientID
	patchApp := func(jwt, oauth map[string]any) {
		app := map[string]any{}
		if jwt != nil {
			app["jwtConfiguration"] = jwt
		}
		if oauth != nil {
			app["oauthConfiguration"] = oauth
		}
		adminRequest(t, tg, http.MethodPatch, appPath, map[string]any{"application": app})
	}
	patchApp(map[string]any{"refreshTokenUsagePolicy": "OneTimeUse"}, nil)
	refreshRaw(t, c, token.RefreshToken)
	patchApp(map[string]any{"refreshTokenUsagePolicy": "Reusable"}, nil)

	// Without openid: no ID token, and userinfo refuses the access token.
	noOpenID := c
	noOpenID.config.Scopes = []string{"offline_access"}
	code, req := logIn(t, noOpenID, newBrowser(t))
	if plain, err := noOpenID.config.Exchange(ctx, code, oauth2.VerifierOption(req.Verifier)); assert.NoError(t, err) {
		userinfo("Bearer " + plain.AccessToken)
	}

	// The token endpoint's refusals.
	exchange := func(edit func(cfg *oauth2.Config) []oauth2.AuthCodeOption) {
		code, req := logIn(t, c, newBrowser(t))
		cfg := c.config
		opts := edit(&cfg)
		if opts == nil {
			opts = []oauth2.AuthCodeOption{oauth2.VerifierOption(req.Verifier)}
		}
		_, err := cfg.Exchange(ctx, code, opts...)
		assert.Error(t, err, "a refused exchange")
	}
	exchange(func(cfg *oauth2.Config) []oauth2.AuthCodeOption { cfg.ClientSecret = "wrong"; return nil })
	exchange(func(cfg *oauth2.Config) []oauth2.AuthCodeOption {
		cfg.ClientSecret, cfg.Endpoint.AuthStyle = "", oauth2.AuthStyleInParams
		return nil
	})
	exchange(func(cfg *oauth2.Config) []oauth2.AuthCodeOption {
		cfg.ClientID = "00000000-0000-4000-8000-000000000000"
		return nil
	})
	exchange(func(*oauth2.Config) []oauth2.AuthCodeOption {
		return []oauth2.AuthCodeOption{oauth2.VerifierOption("too-short")}
	})
	exchange(func(*oauth2.Config) []oauth2.AuthCodeOption { return []oauth2.AuthCodeOption{} }) // no verifier
	exchange(func(*oauth2.Config) []oauth2.AuthCodeOption {
		return []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}
	})
	exchange(func(cfg *oauth2.Config) []oauth2.AuthCodeOption {
		cfg.RedirectURL = "https://evil.example.com/callback"
		return nil
	})
	tokenForm := func(body string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, tg.URL+"/oauth2/token", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(tg.ClientID, tg.ClientSecret)
		newBrowser(t).do(t, req)
	}
	tokenForm("grant_type=password&username=richard")
	tokenForm("grant_type=authorization_code&code=%zz")
	patchApp(nil, map[string]any{"enabledGrants": []string{"authorization_code"}})
	refreshRaw(t, c, token.RefreshToken)
	patchApp(nil, map[string]any{"enabledGrants": []string{"authorization_code", "refresh_token"}})

	// The authorization endpoint's refusals: error redirects and error pages.
	authorize := func(edit func(q url.Values)) {
		u, err := url.Parse(c.authorizeURL(newLoginRequest()))
		require.NoError(t, err)
		q := u.Query()
		edit(q)
		u.RawQuery = q.Encode()
		newBrowser(t).authorize(t, tg, u.String())
	}
	for _, edit := range []func(q url.Values){
		func(q url.Values) { q.Set("scope", "openid not-a-scope") },
		func(q url.Values) { q.Set("response_type", "token") },
		func(q url.Values) { q.Del("response_type") },
		func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") },
		func(q url.Values) { q.Set("code_challenge_method", "plain") },
		func(q url.Values) { q.Set("code_challenge", "short") },
		func(q url.Values) { q.Del("client_id") },
		func(q url.Values) { q.Set("client_id", "00000000-0000-4000-8000-000000000000") },
		func(q url.Values) { q.Del("redirect_uri") },
		func(q url.Values) { q.Set("redirect_uri", "https://evil.example.com/callback") },
	} {
		authorize(edit)
	}
	b.postForm(t, tg.URL+"/oauth2/authorize", url.Values{"client_id": {"%zz"}})
	newBrowser(t).login(t, tg, c.authorizeURL(newLoginRequest()), tg.Unregistered, tg.Password)
	newBrowser(t).get(t, tg.URL+"/oauth2/consent?client_id="+tg.ClientID)
	newBrowser(t).get(t, tg.URL+"/oauth2/consent?client_id=nobody")

	// Logout, with and without what it checks.
	hint, _ := token.Extra("id_token").(string)
	for _, q := range []url.Values{
		{"client_id": {tg.ClientID}, "id_token_hint": {hint}, "post_logout_redirect_uri": {tg.LogoutURL}},
		{"client_id": {tg.ClientID}, "id_token_hint": {hint[:len(hint)-4] + "AAAA"}},
		{"client_id": {tg.ClientID}, "post_logout_redirect_uri": {"https://evil.example.com/"}},
		{"client_id": {"00000000-0000-4000-8000-000000000000"}},
		{},
	} {
		b.get(t, tg.URL+"/oauth2/logout?"+q.Encode())
	}
	postLogoutAPI(t, tg, url.Values{"refreshToken": {token.RefreshToken}}, "", "", nil)
	postLogoutAPI(t, tg, nil, "application/json", `{"global":"yes"}`, nil)

	// The admin API: every answer, and its refusals.
	_, app := adminRequest(t, tg, http.MethodGet, appPath, nil)
	keyID, _ := applicationField(app, "jwtConfiguration", "accessTokenKeyId").(string)
	adminRequest(t, tg, http.MethodGet, "/api/key/"+keyID, nil)
	adminRequest(t, tg, http.MethodPost, "/api/key/generate/"+"00000000-0000-4000-8000-00000000000a",
		map[string]any{"key": map[string]any{"algorithm": "RS256", "name": "Another key", "length": 2048}})
	adminRequest(t, tg, http.MethodPost, "/api/key/generate/"+"00000000-0000-4000-8000-00000000000b",
		map[string]any{"key": map[string]any{"algorithm": "Ed448", "name": "A key the stand-in cannot make"}})
	adminRequest(t, tg, http.MethodGet, "/api/tenant/"+tg.TenantID, nil)
	adminRequest(t, tg, http.MethodPatch, "/api/tenant/"+tg.TenantID, map[string]any{"tenant": map[string]any{"httpSessionMaxInactiveInterval": 3600}})
	patchApp(map[string]any{"accessTokenKeyId": "00000000-0000-4000-8000-00000000dead"}, nil)
	adminRequest(t, tg, http.MethodPost, "/api/application/00000000-0000-4000-8000-0000000000a1",
		map[string]any{"application": map[string]any{"name": "Another application"}})
	adminRequest(t, tg, http.MethodGet, "/api/user/registration/00000000-0000-0000-0000-111111111111/"+tg.ClientID, nil)
	adminRequest(t, tg, http.MethodPost, "/api/user/registration/00000000-0000-4000-8000-0000000000b1", map[string]any{
		"user":         map[string]any{"email": "new@example.com", "password": "password"},
		"registration": map[string]any{"applicationId": tg.ClientID, "roles": []string{"user"}},
	})
	adminRequest(t, tg, http.MethodPost, "/api/user/registration/00000000-0000-4000-8000-0000000000b2", map[string]any{
		"registration": map[string]any{"applicationId": "00000000-0000-4000-8000-000000000000"},
	})
	adminRequest(t, tg, http.MethodDelete, "/api/jwt/refresh?token=not-a-refresh-token", nil)
	adminRequest(t, tg, http.MethodDelete, "/api/jwt/refresh", nil)
}

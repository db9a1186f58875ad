package fusionauthtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"changebank/e2e/fusionauthtest"
)

// projectKickstart is the kickstart the project ships, from this package's folder.
const projectKickstart = "../../kickstart/kickstart.json"

// target is the FusionAuth a contract test talks to: the stand-in, or a real
// FusionAuth when FUSIONAUTH_URL is set (for example http://localhost:9011 after
// `docker compose up`). Everything else comes from the project's kickstart.
type target struct {
	URL    string
	APIKey string

	ClientID     string
	ClientSecret string
	RedirectURL  string // the app's callback, an authorized redirect URL
	LogoutURL    string // the app's logout URL, also an authorized redirect URL

	User         string // registered to the application
	Password     string
	Unregistered string // registered to the FusionAuth admin application only
	TenantID     string // the kickstart's default tenant

	// Stub is the in-process stand-in, nil against FUSIONAUTH_URL.
	Stub *fusionauthtest.Server
	// Standin: the target names itself the stand-in (its X-Changebank-Standin
	// header), in process or the command behind FUSIONAUTH_URL.
	Standin bool
	// Version is the FusionAuth version the target is, or models.
	Version string
}

func newTarget(t testing.TB) target {
	t.Helper()
	tg := kickstartTarget(t)
	tg.Version = fusionAuthVersion(t)
	if real := os.Getenv("FUSIONAUTH_URL"); real != "" {
		tg.URL = strings.TrimSuffix(real, "/")
		if key := os.Getenv("FUSIONAUTH_API_KEY"); key != "" {
			tg.APIKey = key
		}
		status := newBrowser(t).get(t, tg.URL+"/api/status")
		tg.Standin = status.Header.Get(fusionauthtest.StandinHeader) == fusionauthtest.StandinHeaderValue
		if tg.Standin {
			tg.Version = dotEnvVersion(t)
		}
		return tg
	}
	tg.Stub = fusionauthtest.NewServer(t, fusionauthtest.Options{KickstartPath: projectKickstart})
	tg.URL = tg.Stub.URL()
	tg.Standin, tg.Version = true, dotEnvVersion(t)
	return tg
}

// kickstartTarget is what the project's kickstart says about a target: its
// client, users and API key; no URL yet.
func kickstartTarget(t testing.TB) target {
	t.Helper()
	ks, err := fusionauthtest.LoadKickstart(projectKickstart, nil)
	require.NoError(t, err, "load the project's kickstart")
	vars := ks.Variables
	return target{
		ClientID:     vars["applicationId"],
		ClientSecret: vars["clientSecret"],
		RedirectURL:  vars["appURL"] + "/callback",
		LogoutURL:    vars["appURL"] + "/logout",
		User:         vars["userEmail"],
		Password:     vars["userPassword"],
		Unregistered: vars["adminEmail"],
		APIKey:       ks.APIKeys[0].Key,
		TenantID:     vars["defaultTenantId"],
	}
}

// fusionAuthVersion is FUSIONAUTH_VERSION from the environment, else from the
// project's .env.
func fusionAuthVersion(t testing.TB) string {
	t.Helper()
	if v := os.Getenv("FUSIONAUTH_VERSION"); v != "" {
		return v
	}
	return dotEnvVersion(t)
}

// dotEnvVersion is the project's pinned version: the one docker compose runs
// by default and the stand-in models.
func dotEnvVersion(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile("../../.env")
	require.NoError(t, err, "read the project's .env")
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "FUSIONAUTH_VERSION="); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("no FUSIONAUTH_VERSION in .env")
	return ""
}

// atLeast reports whether the target's version is minor or newer ("1.62").
func (tg target) atLeast(t testing.TB, minor string) bool {
	t.Helper()
	return compareVersions(t, tg.Version, minor) >= 0
}

// compareVersions compares the first two numbers of dotted versions.
func compareVersions(t testing.TB, a, b string) int {
	t.Helper()
	parse := func(v string) [2]int {
		var n [2]int
		parts := strings.SplitN(v, ".", 3)
		for i := 0; i < 2 && i < len(parts); i++ {
			x, err := strconv.Atoi(parts[i])
			require.NoError(t, err, "version %q", v)
			n[i] = x
		}
		return n
	}
	x, y := parse(a), parse(b)
	for i := range x {
		if x[i] != y[i] {
			return x[i] - y[i]
		}
	}
	return 0
}

// likely is for what FusionAuth's documentation does not settle: the LIKELY
// and UNCERTAIN entries of FUSIONAUTH.md, which what names. The stand-in must
// model the likely reading, so against it this asserts; against a real
// FusionAuth it only logs an "observed:" line, and a real run tells which
// reading is right without failing on a guess.
func likely(t testing.TB, tg target, what string, want, got any) {
	t.Helper()
	verdict := "as modelled"
	if !reflect.DeepEqual(want, got) {
		verdict = "DIFFERS from the stand-in's model"
	}
	if tg.Standin {
		assert.Equal(t, want, got, "the stand-in models the likely reading: %s", what)
		return
	}
	t.Logf("observed: FusionAuth %s: %s: got %#v, modelled %#v: %s", tg.Version, what, got, want, verdict)
}

// stub returns the stand-in, skipping the test against a real FusionAuth.
func stub(t testing.TB) target {
	t.Helper()
	if os.Getenv("FUSIONAUTH_URL") != "" {
		t.Skip("needs the stand-in's clock or fault injection; a real FusionAuth (FUSIONAUTH_URL) has neither")
	}
	return newTarget(t)
}

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// client is an OAuth client of the target, as the application configures one.
type client struct {
	tg       target
	provider *oidc.Provider
	config   oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newClient(t testing.TB, ctx context.Context, tg target) client {
	t.Helper()
	provider, err := oidc.NewProvider(ctx, tg.URL)
	require.NoError(t, err, "discovery at %s", tg.URL)
	endpoint := provider.Endpoint()
	// FusionAuth takes Basic; auto-detection would send a failing code twice.
	endpoint.AuthStyle = oauth2.AuthStyleInHeader
	return client{
		tg:       tg,
		provider: provider,
		config: oauth2.Config{
			ClientID:     tg.ClientID,
			ClientSecret: tg.ClientSecret,
			Endpoint:     endpoint,
			RedirectURL:  tg.RedirectURL,
			Scopes:       []string{oidc.ScopeOpenID, "email", "profile", oidc.ScopeOfflineAccess},
		},
		verifier: provider.Verifier(&oidc.Config{ClientID: tg.ClientID}),
	}
}

// loginRequest is one authorization request's secrets.
type loginRequest struct {
	State, Nonce, Verifier string
}

func newLoginRequest() loginRequest {
	return loginRequest{State: oauth2.GenerateVerifier(), Nonce: oauth2.GenerateVerifier(), Verifier: oauth2.GenerateVerifier()}
}

func (c client) authorizeURL(req loginRequest) string {
	return c.config.AuthCodeURL(req.State, oidc.Nonce(req.Nonce), oauth2.S256ChallengeOption(req.Verifier))
}

// browser is a cookie-keeping HTTP client that does not follow redirects, so
// a test sees every 302 FusionAuth sends.
type browser struct {
	http *http.Client
}

func newBrowser(t testing.TB) browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return browser{http: &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// page is a response with its body read.
type page struct {
	Status   int
	Location string
	Body     string
	Header   http.Header
	// Via lists the FusionAuth URLs follow went through to get here, and
	// Cookies every cookie FusionAuth set on the way, this answer's included.
	Via     []string
	Cookies []*http.Cookie
}

func (b browser) do(t testing.TB, req *http.Request) page {
	t.Helper()
	resp, err := b.http.Do(req)
	require.NoError(t, err, "%s %s", req.Method, req.URL)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return page{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(body), Header: resp.Header, Cookies: resp.Cookies()}
}

// follow goes where a browser goes after p: through FusionAuth's own redirects
// (the consent step among them) until an answer that is not a redirect within
// FusionAuth, such as the redirect to the client's redirect_uri, which it
// returns without visiting.
func (b browser) follow(t testing.TB, tg target, p page) page {
	t.Helper()
	base, err := url.Parse(tg.URL)
	require.NoError(t, err)
	var via []string
	cookies := p.Cookies
	for range 10 {
		if p.Status < 300 || p.Status > 399 || p.Location == "" {
			break
		}
		next, err := base.Parse(p.Location)
		require.NoError(t, err, "Location %q", p.Location)
		if next.Scheme != base.Scheme || next.Host != base.Host {
			break
		}
		via = append(via, next.String())
		p = b.get(t, next.String())
		cookies = append(cookies, p.Cookies...)
	}
	p.Via, p.Cookies = via, cookies
	return p
}

// authorize opens an authorization URL and follows FusionAuth's redirects.
func (b browser) authorize(t testing.TB, tg target, authorizeURL string) page {
	t.Helper()
	return b.follow(t, tg, b.get(t, authorizeURL))
}

// cookieNamed is the last cookie called name among cookies, or nil.
func cookieNamed(cookies []*http.Cookie, name string) *http.Cookie {
	var found *http.Cookie
	for _, c := range cookies {
		if c.Name == name {
			found = c
		}
	}
	return found
}

func (b browser) get(t testing.TB, rawURL string) page {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodGet, rawURL, nil)
	require.NoError(t, err)
	return b.do(t, req)
}

func (b browser) postForm(t testing.TB, rawURL string, form url.Values) page {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(t, req)
}

// login opens the login page and submits it like a browser: every field the
// form holds, plus the credentials, with "Keep me signed in" ticked (whether the
// page pre-ticks it is not something the tests rely on). It follows
// FusionAuth's redirects and returns the first answer that leaves FusionAuth or
// is not a redirect.
func (b browser) login(t testing.TB, tg target, authorizeURL, loginID, password string) page {
	t.Helper()
	return b.loginRemembering(t, tg, authorizeURL, loginID, password, true)
}

// loginRemembering is login with "Keep me signed in" ticked or not.
func (b browser) loginRemembering(t testing.TB, tg target, authorizeURL, loginID, password string, remember bool) page {
	t.Helper()
	loginPage := b.get(t, authorizeURL)
	require.Equal(t, http.StatusOK, loginPage.Status, "GET the login page: %s", loginPage.Body)
	form := loginForm(t, loginPage.Body)
	form.Set("loginId", loginID)
	form.Set("password", password)
	form.Del("rememberDevice")
	if remember {
		form.Set("rememberDevice", "true")
	}
	post := b.postForm(t, tg.URL+"/oauth2/authorize", form)
	return b.follow(t, tg, post)
}

var (
	loginFormPattern = regexp.MustCompile(`(?s)<form[^>]*action="/oauth2/authorize"[^>]*>(.*?)</form>`)
	inputPattern     = regexp.MustCompile(`<input\b[^>]*>`)
	attrPattern      = regexp.MustCompile(`([a-zA-Z_:-]+)(?:="([^"]*)")?`)
)

// loginForm returns the values a browser would submit from the login form.
func loginForm(t testing.TB, body string) url.Values {
	t.Helper()
	m := loginFormPattern.FindStringSubmatch(body)
	require.NotNil(t, m, "no form with action=/oauth2/authorize in the page:\n%s", body)
	form := url.Values{}
	for _, input := range inputPattern.FindAllString(m[1], -1) {
		attrs := inputAttributes(input)
		name := attrs["name"]
		if name == "" {
			continue
		}
		switch attrs["type"] {
		case "checkbox", "radio":
			if _, checked := attrs["checked"]; checked {
				value := attrs["value"]
				if value == "" {
					value = "on"
				}
				form.Add(name, value)
			}
		default:
			form.Add(name, attrs["value"])
		}
	}
	return form
}

func inputAttributes(tag string) map[string]string {
	attrs := map[string]string{}
	for _, a := range attrPattern.FindAllStringSubmatch(strings.TrimSuffix(strings.TrimPrefix(tag, "<input"), ">"), -1) {
		attrs[strings.ToLower(a[1])] = html.UnescapeString(a[2])
	}
	return attrs
}

// callback checks that p redirects to the application and returns its query.
func callback(t testing.TB, tg target, p page) url.Values {
	t.Helper()
	require.Equal(t, http.StatusFound, p.Status, "want a redirect to the application; body:\n%s", p.Body)
	loc, err := url.Parse(p.Location)
	require.NoError(t, err)
	require.Equal(t, tg.RedirectURL, loc.Scheme+"://"+loc.Host+loc.Path, "redirect target")
	return loc.Query()
}

// logIn runs a whole login and returns the code and the request it answers.
func logIn(t testing.TB, c client, b browser) (code string, req loginRequest) {
	t.Helper()
	req = newLoginRequest()
	q := callback(t, c.tg, b.login(t, c.tg, c.authorizeURL(req), c.tg.User, c.tg.Password))
	require.Equal(t, req.State, q.Get("state"), "state in the callback")
	require.NotEmpty(t, q.Get("code"), "code in the callback")
	return q.Get("code"), req
}

// tokenError is FusionAuth's error body from the token endpoint.
type tokenError struct {
	Status      int
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Reason      string `json:"error_reason"`
}

// asTokenError unpacks the token endpoint's refusal from an x/oauth2 error.
func asTokenError(t testing.TB, err error) tokenError {
	t.Helper()
	var re *oauth2.RetrieveError
	require.True(t, errors.As(err, &re), "want *oauth2.RetrieveError, got %T: %v", err, err)
	te := tokenError{Status: re.Response.StatusCode}
	require.NoError(t, json.Unmarshal(re.Body, &te), "error body is JSON: %s", re.Body)
	return te
}

// adminRequest calls the admin API with the target's API key.
func adminRequest(t testing.TB, tg target, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		require.NoError(t, err)
		reader = strings.NewReader(string(data))
	}
	// Not t.Context(): tests also call this from t.Cleanup, where it is cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, tg.URL+path, reader)
	require.NoError(t, err)
	req.Header.Set("Authorization", tg.APIKey)
	req.Header.Set("Content-Type", "application/json")
	if method == http.MethodPatch {
		// RFC 7396 merge: arrays are replaced, the same on every FusionAuth version
		// that supports it (1.39+) and in the stand-in.
		req.Header.Set("Content-Type", "application/merge-patch+json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "read the answer to %s %s", method, path)
	var out map[string]any
	if len(data) > 0 {
		require.NoError(t, json.Unmarshal(data, &out), "%s %s answered %d with a body that is not a JSON object:\n%s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode, out
}

// tokenClaims decodes an ID token's or access token's claims, after verification.
func tokenClaims(t testing.TB, tok *oidc.IDToken) map[string]any {
	t.Helper()
	var c map[string]any
	require.NoError(t, tok.Claims(&c))
	return c
}

// stubWithKickstart is the stand-in configured by the project's kickstart
// after edit has changed its text, as a reader would change their copy.
func stubWithKickstart(t testing.TB, edit func(string) string) target {
	t.Helper()
	tg := stub(t)
	data, err := os.ReadFile(projectKickstart)
	require.NoError(t, err)
	edited := edit(string(data))
	require.NotEqual(t, string(data), edited, "the edit changes the kickstart")
	path := filepath.Join(t.TempDir(), "kickstart.json")
	require.NoError(t, os.WriteFile(path, []byte(edited), 0o644))
	tg.Stub = fusionauthtest.NewServer(t, fusionauthtest.Options{KickstartPath: path})
	tg.URL = tg.Stub.URL()
	return tg
}

// refreshRaw runs the refresh grant with a plain form POST and returns the
// decoded answer, so that a missing refresh_token stays visible (x/oauth2
// would keep the old one).
func refreshRaw(t testing.TB, c client, refreshToken string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, c.config.Endpoint.TokenURL, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.tg.ClientID, c.tg.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body), "the token endpoint answers JSON")
	return resp.StatusCode, body
}

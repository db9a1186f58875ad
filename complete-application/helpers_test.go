// The test application and the user's steps, shared by every test: the app
// on a random port against the FusionAuth stand-in, a browser that shows each
// redirect, the login step (error-returning, so goroutines can use it), and
// the checks a refusal must pass (no session, a clear error page, logged
// out).

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The kickstart's test user and application.
const (
	testUserEmail    = "richard@example.com"
	testUserPassword = "password"
	testClientID     = "e9fdb985-9173-4e01-9d73-ac2d60d1dc8e"
	testSecretKey    = "a-test-secret-key-of-at-least-32-characters"
)

// testApp is Changebank on a random local port, talking to a FusionAuth
// stand-in, with a client that behaves like a browser that does not follow
// redirects on its own, so tests can check every step.
type testApp struct {
	t      testing.TB
	url    string
	idp    *fusionauthtest.Server
	auth   *authenticator
	client *http.Client
	srv    *httptest.Server
}

// handler is the application's handler, for calling without a network.
func (a *testApp) handler() http.Handler { return a.srv.Config.Handler }

// newTestApp starts the application against idp and registers its callback
// and logout URLs with the stand-in's admin API, as a developer would with a
// real FusionAuth.
func newTestApp(t testing.TB, idp *fusionauthtest.Server) *testApp {
	t.Helper()
	return newAppFor(t, idp, idp.URL())
}

// newAppFor is newTestApp with issuer as the app's ISSUER: idp behind a
// front, or another spelling of idp's address.
func newAppFor(t testing.TB, idp *fusionauthtest.Server, issuer string) *testApp {
	t.Helper()
	srv, auth := newAppWithIssuer(t, issuer)
	// The app checks token times against the stand-in's clock, so tests can
	// move that clock to expire tokens.
	auth.now = idp.Now
	registerRedirectURLs(t, idp, srv.URL)
	return &testApp{t: t, url: srv.URL, idp: idp, auth: auth, client: newBrowserClient(t), srv: srv}
}

// newAppWithIssuer starts the application with the given issuer, which need
// not answer yet.
func newAppWithIssuer(t testing.TB, issuer string) (*httptest.Server, *authenticator) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	env := map[string]string{
		"APP_URL":        "http://" + srv.Listener.Addr().String(),
		"ISSUER":         issuer,
		"APP_SECRET_KEY": testSecretKey,
	}
	handler, auth := newHandlerFromEnv(t, env)
	auth.retryInterval = 0
	auth.httpClient.Timeout = 2 * time.Second
	// Most tests jump the clock past an access token's lifetime, or a
	// refresh token's, in one step; the session's own limits would end those
	// sessions first. newLimitedTestApp (session_test.go) puts the limits back.
	auth.sessionIdleTimeout = 365 * 24 * time.Hour
	auth.sessionMaxLifetime = 365 * 24 * time.Hour
	srv.Config.Handler = handler
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, auth
}

// testLogOutput sends the app's log to the test's output, which go test
// shows only for failing tests or with -v.
func testLogOutput(t testing.TB) io.Writer {
	if testing.Verbose() {
		return t.Output()
	}
	return io.Discard
}

// newHandlerFromEnv builds the application's handler from env, as run does,
// and returns it with its authenticator, whose fields a test may still set.
func newHandlerFromEnv(t testing.TB, env map[string]string) (http.Handler, *authenticator) {
	t.Helper()
	cfg, err := loadConfig(func(name string) string { return env[name] })
	require.NoError(t, err)
	logger := slog.New(slog.NewTextHandler(testLogOutput(t), nil))
	pages, err := parsePages(logger)
	require.NoError(t, err)
	auth, err := newAuthenticator(cfg, logger)
	require.NoError(t, err)
	return newHandler(logger, pages, auth, cfg), auth
}

// newBrowserClient is an HTTP client with a cookie jar that does not follow redirects.
func newBrowserClient(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// newBrowser is another browser, with cookies of its own, on the same app.
func (a *testApp) newBrowser() *testApp {
	a.t.Helper()
	return &testApp{t: a.t, url: a.url, idp: a.idp, auth: a.auth, client: newBrowserClient(a.t), srv: a.srv}
}

// copyOfCookies is another browser holding the same cookies as a: what
// someone who copied them would have.
func (a *testApp) copyOfCookies() *testApp {
	a.t.Helper()
	c := a.newBrowser()
	u, err := url.Parse(a.url)
	require.NoError(a.t, err)
	c.client.Jar.SetCookies(u, a.client.Jar.Cookies(u))
	return c
}

// registerRedirectURLs adds appURL's callback and logout URLs to the Changebank
// application through the admin API.
func registerRedirectURLs(t testing.TB, idp *fusionauthtest.Server, appURL string) {
	t.Helper()
	callAdminAPI(t, idp, http.MethodPatch, "/api/application/"+testClientID, map[string]any{"application": map[string]any{
		"oauthConfiguration": map[string]any{
			"authorizedRedirectURLs": []string{appURL + "/callback", appURL + "/logout"},
			"logoutURL":              appURL + "/logout",
		},
	}})
}

// registerUser creates a user registered to Changebank through the admin
// API, as an administrator would in FusionAuth.
func registerUser(t *testing.T, idp *fusionauthtest.Server, id, email, password string) {
	t.Helper()
	callAdminAPI(t, idp, http.MethodPost, "/api/user/registration/"+id, map[string]any{
		"user":         map[string]any{"email": email, "password": password},
		"registration": map[string]any{"applicationId": testClientID},
	})
}

// callAdminAPI sends body as JSON to the stand-in's admin API with its API
// key, as kickstart or an administrator's script would, and requires a 200.
func callAdminAPI(t testing.TB, idp *fusionauthtest.Server, method, path string, body any) {
	t.Helper()
	payload, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(method, idp.URL()+path, bytes.NewReader(payload))
	require.NoError(t, err)
	req.Header.Set("Authorization", idp.APIKey())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s %s", method, path)
}

// response is a finished HTTP exchange, with the body read.
type response struct {
	*http.Response
	body string
}

// send sends req from this browser and reads the answer. It returns what
// went wrong instead of failing the test, so that the login step can run in
// a goroutine.
func (a *testApp) send(req *http.Request) (response, error) {
	resp, err := a.client.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: reading the answer: %w", req.Method, req.URL, err)
	}
	return response{Response: resp, body: string(body)}, nil
}

// fetch is send for a GET of a path of the app, or of an absolute URL.
func (a *testApp) fetch(target string) (response, error) {
	if strings.HasPrefix(target, "/") {
		target = a.url + target
	}
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return response{}, err
	}
	return a.send(req)
}

func (a *testApp) do(req *http.Request) response {
	a.t.Helper()
	resp, err := a.send(req)
	require.NoError(a.t, err)
	return resp
}

// get fetches a path of the app, or an absolute URL.
func (a *testApp) get(target string) response {
	a.t.Helper()
	resp, err := a.fetch(target)
	require.NoError(a.t, err)
	return resp
}

// getAfterRetry fetches a path and, when the app asks for a retry of the
// same request (a refused refresh, see retryAfterLostRace), fetches it once
// more, as a browser follows the redirect. It requires that the first
// answer, if a retry, deletes no session cookie.
func (a *testApp) getAfterRetry(path string) response {
	a.t.Helper()
	resp := a.get(path)
	if resp.StatusCode != http.StatusTemporaryRedirect {
		return resp
	}
	require.Equal(a.t, path, resp.Header.Get("Location"), "a retry of the same request")
	for _, c := range resp.Cookies() {
		require.NotContains(a.t, sessionCookies, c.Name, "a retry leaves the session's cookies alone")
	}
	return a.get(path)
}

// post sends a form to a path of the app, as a same-origin browser form would.
func (a *testApp) post(path string, form url.Values) response {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.url+path, strings.NewReader(form.Encode()))
	require.NoError(a.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", a.url)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return a.do(req)
}

// The user's steps of a login. Each returns what went wrong, naming the
// step, instead of failing the test: tests require.NoError on the result,
// and concurrent tests collect the errors of their goroutines.

// wantStatus returns an error unless resp has one of the statuses want.
func wantStatus(resp response, want ...int) error {
	if slices.Contains(want, resp.StatusCode) {
		return nil
	}
	return fmt.Errorf("%s %s: status %d, want %v: %s", resp.Request.Method, resp.Request.URL, resp.StatusCode, want, resp.body)
}

// startLogin follows the Login button and returns FusionAuth's authorize URL.
func (a *testApp) startLogin() (*url.URL, error) {
	resp, err := a.fetch("/login")
	if err != nil {
		return nil, err
	}
	if err := wantStatus(resp, http.StatusSeeOther); err != nil {
		return nil, err
	}
	return url.Parse(resp.Header.Get("Location"))
}

// signIn plays the user at FusionAuth: on its login form it enters email
// and password (with "Keep me signed in" ticked, as a browser sends it),
// or, while FusionAuth's session lasts, it sees no form; then it follows
// FusionAuth's own redirects (the consent step) and returns the callback URL
// FusionAuth sends the browser to, without visiting it.
func (a *testApp) signIn(authorize *url.URL, email, password string) (string, error) {
	page, err := a.fetch(authorize.String())
	if err != nil {
		return "", err
	}
	if err := wantStatus(page, http.StatusOK, http.StatusFound); err != nil {
		return "", err
	}
	resp := page
	if page.StatusCode == http.StatusOK {
		form := authorize.Query()
		form.Set("loginId", email)
		form.Set("password", password)
		form.Set("rememberDevice", "true")
		req, err := http.NewRequest(http.MethodPost, a.idp.URL()+"/oauth2/authorize", strings.NewReader(form.Encode()))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, err = a.send(req); err != nil {
			return "", err
		}
		if err := wantStatus(resp, http.StatusFound, http.StatusSeeOther); err != nil {
			return "", err
		}
	}
	location := resp.Header.Get("Location")
	for strings.HasPrefix(location, "/") || strings.HasPrefix(location, a.idp.URL()+"/") {
		if strings.HasPrefix(location, "/") {
			location = a.idp.URL() + location
		}
		if resp, err = a.fetch(location); err != nil {
			return "", err
		}
		if err := wantStatus(resp, http.StatusFound); err != nil {
			return "", err
		}
		location = resp.Header.Get("Location")
	}
	return location, nil
}

// loginCallback starts a login and signs in at FusionAuth, and returns the
// callback URL without visiting it.
func (a *testApp) loginCallback(email, password string) (string, error) {
	authorize, err := a.startLogin()
	if err != nil {
		return "", err
	}
	return a.signIn(authorize, email, password)
}

// logInAs is the whole login, as a browser makes it: the Login button,
// FusionAuth's form and redirects, and the callback, which must send the
// browser to /account.
func (a *testApp) logInAs(email, password string) error {
	callback, err := a.loginCallback(email, password)
	if err != nil {
		return err
	}
	resp, err := a.fetch(callback)
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusSeeOther); err != nil {
		return err
	}
	if location := resp.Header.Get("Location"); location != "/account" {
		return fmt.Errorf("GET /callback: redirect to %q, want /account", location)
	}
	return nil
}

// cookie returns the value of the app's cookie called name, or "".
func (a *testApp) cookie(name string) string {
	u, _ := url.Parse(a.url)
	for _, c := range a.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// setCookie replaces the app's cookie called name in the browser.
func (a *testApp) setCookie(name, value string) {
	u, _ := url.Parse(a.url)
	a.client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// deleteCookie removes the app's cookie called name from the browser.
func (a *testApp) deleteCookie(name string) {
	u, _ := url.Parse(a.url)
	a.client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: "", Path: "/", MaxAge: -1}})
}

// requestsTo counts the requests the stand-in received for path.
func requestsTo(idp *fusionauthtest.Server, path string) int {
	n := 0
	for _, r := range idp.Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

// elementText returns the text of the element with the given id, or "".
func elementText(html, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(html)
	if m == nil {
		return ""
	}
	return m[1]
}

// freeAddr returns a local address nothing listens on right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// sessionCookies are the cookies that make up a logged-in session.
var sessionCookies = []string{accessTokenCookie, refreshTokenCookie, idTokenCookie, userCookie}

// assertLoggedOut checks the browser holds no session and /account refuses it.
func assertLoggedOut(t *testing.T, app *testApp) {
	t.Helper()
	for _, name := range []string{"cb_access_token", "cb_refresh_token", "cb_id_token", "cb_user", "cb_login"} {
		assert.Empty(t, app.cookie(name), "cookie %s", name)
	}
	resp := app.get("/account")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "GET /account")
	assert.Equal(t, "/", resp.Header.Get("Location"), "GET /account goes home")
}

// assertSetsNoSession checks that a response stores no session in the
// browser: every session cookie it sets, it deletes.
func assertSetsNoSession(t *testing.T, resp *http.Response) {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Value != "" && c.MaxAge >= 0 {
			assert.Fail(t, "the response sets a cookie", "Set-Cookie %s (%d bytes) on %s %s",
				c.Name, len(c.Value), resp.Request.Method, resp.Request.URL.Path)
		}
	}
}

// assertDeletesSession checks that a response deletes every session cookie.
func assertDeletesSession(t *testing.T, resp *http.Response) {
	t.Helper()
	deleted := map[string]bool{}
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			deleted[c.Name] = true
		}
	}
	for _, name := range sessionCookies {
		assert.True(t, deleted[name], "%s %s deletes cookie %s", resp.Request.Method, resp.Request.URL.Path, name)
	}
}

// assertRefreshEndedSession checks the outcome of a refused refresh: the
// browser goes to the home page, every session cookie is deleted and none is
// set, /account refuses, and FusionAuth heard the one refresh request and
// nothing after it.
func assertRefreshEndedSession(t *testing.T, resp response, app *testApp, idp *fusionauthtest.Server) {
	t.Helper()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assertDeletesSession(t, resp.Response)
	assertSetsNoSession(t, resp.Response)
	assertLoggedOut(t, app)
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the refresh, and nothing after it")
	assert.Zero(t, requestsTo(idp, "/oauth2/userinfo"), "userinfo requests")
}

// assertErrorPage checks an answer is the styled error page with the status
// want: a clear message, never a 500 or a raw upstream error.
func assertErrorPage(t *testing.T, resp response, want int) {
	t.Helper()
	assert.Equal(t, want, resp.StatusCode, "%s %s: %s", resp.Request.Method, resp.Request.URL.Path, resp.body)
	assert.NotEmpty(t, elementText(resp.body, "error"), "%s %s explains what happened", resp.Request.Method, resp.Request.URL.Path)
	for _, leak := range []string{"oauth2:", "dial tcp", "context deadline", "Client.Timeout", "eyJ"} {
		assert.NotContains(t, resp.body, leak, "the error page shows no raw error or token")
	}
}

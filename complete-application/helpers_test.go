// The fixtures every test shares: the application on a random port against
// the FusionAuth stand-in; a browser that shows each redirect; the user's
// login steps (error-returning, so goroutines can use them); and the checks
// a refusal must pass. What tests put in front of FusionAuth is in
// fusionauthfront_test.go, and the load balancer over replicas of the
// program in replicas_test.go.

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// sessionCookies are the cookies that make up a logged-in session.
var sessionCookies = []string{sessionCookie, accessTokenCookie, idTokenCookie}

// testApp is one browser on Changebank, which runs on a random local port
// against a FusionAuth stand-in. The browser does not follow redirects on its
// own, so tests can check every step.
type testApp struct {
	t        testing.TB
	url      string
	idp      *fusionauthtest.Server
	oidc     *oidcClient
	sessions *sessionKeeper
	logs     *lockedBuffer // the app's log
	client   *http.Client  // the browser
	srv      *httptest.Server
}

// handler is the application's handler, for calling without a network.
func (a *testApp) handler() http.Handler { return a.srv.Config.Handler }

// newTestApp starts the application against idp and registers its callback
// and logout URLs with the stand-in's admin API, as a developer would with a
// real FusionAuth.
func newTestApp(t testing.TB, idp *fusionauthtest.Server) *testApp {
	t.Helper()
	return newAppFor(t, idp, idp.URL(), nil)
}

// newAppFor is newTestApp with issuer as the app's ISSUER (idp behind a
// front, say) and env added to the app's environment.
//
// Most tests jump the stand-in's clock past an access token's lifetime, or a
// refresh token's, in one step; the session's own limits would end those
// sessions first, so they are a year unless env sets them.
func newAppFor(t testing.TB, idp *fusionauthtest.Server, issuer string, env map[string]string) *testApp {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	appURL := "http://" + srv.Listener.Addr().String()
	full := map[string]string{
		"APP_URL":              appURL,
		"ISSUER":               issuer,
		"APP_SECRET_KEY":       testSecretKey,
		"SESSION_IDLE_TIMEOUT": "8760h",
		"SESSION_MAX_LIFETIME": "8760h",
	}
	maps.Copy(full, env)
	app := &testApp{t: t, url: appURL, idp: idp, logs: &lockedBuffer{}, client: newBrowserClient(t), srv: srv}
	// The app checks times against the stand-in's clock, so tests can move
	// that clock to expire tokens and sessions.
	var logs io.Writer = app.logs
	if _, benchmark := t.(*testing.B); benchmark {
		logs = io.Discard // a benchmark's millions of lines would measure the buffer
	}
	var handler http.Handler
	handler, app.oidc, app.sessions = newHandlerFromEnv(t, full, idp.Now, io.MultiWriter(testLogOutput(t), logs))
	srv.Config.Handler = handler
	srv.Start()
	t.Cleanup(srv.Close)
	registerRedirectURLs(t, idp, appURL)
	return app
}

// newHandlerFromEnv builds the application's handler from env, as run does,
// with the clock now, and returns it with its OpenID Connect client and
// sessions, whose fields a test may still set.
func newHandlerFromEnv(t testing.TB, env map[string]string, now func() time.Time, log io.Writer) (http.Handler, *oidcClient, *sessionKeeper) {
	t.Helper()
	cfg, err := loadConfig(func(name string) string { return env[name] })
	require.NoError(t, err)
	logger := slog.New(slog.NewTextHandler(log, nil))
	pages, err := parsePages(logger)
	require.NoError(t, err)
	auth, err := newLogin(loginConfig{
		Issuer: cfg.issuer, ClientID: cfg.clientID, ClientSecret: cfg.clientSecret, AppURL: cfg.appURL,
		SecretKeys: cfg.secretKeys, IdleTimeout: cfg.sessionIdleTimeout, MaxLifetime: cfg.sessionMaxLifetime,
		AfterLogin: "/account", AfterLogout: "/", ShowError: pages.renderError, Logger: logger, Now: now,
	})
	require.NoError(t, err)
	auth.client.retryInterval = 0
	auth.client.httpClient.Timeout = time.Second
	return newHandler(logger, pages, auth, cfg.appURL.Scheme == "https"), auth.client, auth.sessions
}

// testLogOutput sends the app's log to the test's output, which go test
// shows only for failing tests or with -v.
func testLogOutput(t testing.TB) io.Writer {
	if testing.Verbose() {
		return t.Output()
	}
	return io.Discard
}

// newBrowserClient is an HTTP client with a cookie jar that does not follow redirects.
func newBrowserClient(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// newBrowser is another browser, with cookies of its own, on the same app.
func (a *testApp) newBrowser() *testApp {
	b := *a
	b.client = newBrowserClient(a.t)
	return &b
}

// copyOfCookies is another browser holding the same cookies as a: what
// someone who copied them would have.
func (a *testApp) copyOfCookies() *testApp {
	return a.onApp(a)
}

// onApp is a browser on the instance other of the application holding a's
// cookies: the same user after a restart, or behind a load balancer.
func (a *testApp) onApp(other *testApp) *testApp {
	a.t.Helper()
	browser := other.newBrowser()
	from, err := url.Parse(a.url)
	require.NoError(a.t, err)
	to, err := url.Parse(other.url)
	require.NoError(a.t, err)
	browser.client.Jar.SetCookies(to, a.client.Jar.Cookies(from))
	return browser
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
func registerUser(t testing.TB, idp *fusionauthtest.Server, id, email, password string) {
	t.Helper()
	callAdminAPI(t, idp, http.MethodPost, "/api/user/registration/"+id, map[string]any{
		"user":         map[string]any{"email": email, "password": password},
		"registration": map[string]any{"applicationId": testClientID},
	})
}

// setRefreshTokenPolicy sets the application's refresh token usage policy
// (Reusable, FusionAuth's default, or OneTimeUse) through the admin API.
func setRefreshTokenPolicy(t testing.TB, idp *fusionauthtest.Server, policy string) {
	t.Helper()
	callAdminAPI(t, idp, http.MethodPatch, "/api/application/"+testClientID, map[string]any{"application": map[string]any{
		"jwtConfiguration": map[string]any{"refreshTokenUsagePolicy": policy},
	}})
}

// refreshTokenPolicies are FusionAuth's refresh token usage policies.
var refreshTokenPolicies = []string{"Reusable", "OneTimeUse"}

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

// getFrom fetches target as the browser would for a request of the given
// Sec-Fetch-Dest and Sec-Fetch-Site ("iframe" and "same-site" for FusionAuth's
// logging-out page, "document" and "cross-site" for a link on another site).
func (a *testApp) getFrom(target, dest, site string) response {
	a.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = a.url + target
	}
	req, err := http.NewRequest(http.MethodGet, target, nil)
	require.NoError(a.t, err)
	setFetchMetadata(req, dest, site)
	return a.do(req)
}

// setFetchMetadata sets the fetch metadata headers a browser sends; empty
// values are left out, as an old browser does.
func setFetchMetadata(req *http.Request, dest, site string) {
	if dest != "" {
		req.Header.Set("Sec-Fetch-Dest", dest)
	}
	if site != "" {
		req.Header.Set("Sec-Fetch-Site", site)
	}
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

// startLogin follows the Log in button and returns FusionAuth's authorize URL.
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

// logInAs is the whole login, as a browser makes it: the Log in button,
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

// ssoSessionAlive reports whether FusionAuth would log this browser in
// without its login form.
func (a *testApp) ssoSessionAlive() bool {
	a.t.Helper()
	authorize, err := a.startLogin()
	require.NoError(a.t, err)
	resp := a.get(authorize.String())
	return resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther
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

// record opens the session's record in the browser's oidc_session, as the app would.
func (a *testApp) record() session {
	a.t.Helper()
	var s session
	require.NoError(a.t, a.sessions.cookies.open(a.requestWithCookies(), sessionCookie, "", &s), "opening oidc_session")
	return s
}

// requestWithCookies is a request to the app carrying the browser's cookies.
func (a *testApp) requestWithCookies() *http.Request {
	req := httptest.NewRequest(http.MethodGet, a.url+"/", nil)
	u, _ := url.Parse(a.url)
	for _, c := range a.client.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	return req
}

// setRecord seals s into the browser's oidc_session, as the app would.
func (a *testApp) setRecord(s session) {
	a.t.Helper()
	c, err := a.sessions.cookies.seal(sessionCookie, "", s, 0)
	require.NoError(a.t, err)
	a.setCookie(sessionCookie, c.Value)
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

// refreshesWith counts the token requests FusionAuth received that redeem refreshToken.
func refreshesWith(idp *fusionauthtest.Server, refreshToken string) int {
	n := 0
	for _, r := range idp.Requests() {
		if r.Path == "/oauth2/token" && r.Form.Get("grant_type") == "refresh_token" && r.Form.Get("refresh_token") == refreshToken {
			n++
		}
	}
	return n
}

// refreshTokenUsable reports whether FusionAuth still honours refreshToken,
// by redeeming it at the token endpoint as the application would.
func refreshTokenUsable(t testing.TB, idp *fusionauthtest.Server, refreshToken string) bool {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	req, err := http.NewRequest(http.MethodPost, idp.URL()+"/oauth2/token", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testClientID, kickstartClientSecret)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	switch resp.StatusCode {
	case http.StatusOK:
		return true
	case http.StatusBadRequest:
		require.Contains(t, string(body), "invalid_grant", "a refused refresh token")
		return false
	}
	require.Failf(t, "unexpected answer of the token endpoint", "%d: %s", resp.StatusCode, body)
	return false
}

// logoutAPIRefreshTokens are the refresh tokens of the Logout API calls
// FusionAuth received, in order, wherever each call put it: a JSON body, a
// form body or the query string.
func logoutAPIRefreshTokens(t testing.TB, idp *fusionauthtest.Server) []string {
	t.Helper()
	var tokens []string
	for _, r := range idp.Requests() {
		if r.Path != "/api/logout" {
			continue
		}
		var body struct {
			RefreshToken string `json:"refreshToken"`
		}
		switch {
		case strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
			require.NoError(t, json.Unmarshal(r.Body, &body), "the Logout API call's JSON body")
		case r.Form.Has("refreshToken"):
			body.RefreshToken = r.Form.Get("refreshToken")
		default:
			body.RefreshToken = r.Query.Get("refreshToken")
		}
		tokens = append(tokens, body.RefreshToken)
	}
	return tokens
}

// elementText returns the text of the element with the given id, or "".
func elementText(html, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(html)
	if m == nil {
		return ""
	}
	return m[1]
}

// outline sums an answer up for a failure message: its status, where it
// redirects, and the page's email or error text.
func outline(resp response) string {
	return fmt.Sprintf("status %d, Location %q, email %q, error %q", resp.StatusCode, resp.Header.Get("Location"),
		elementText(resp.body, "email"), elementText(resp.body, "error"))
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

// assertLoggedOut checks the browser holds no session and /account refuses it.
func assertLoggedOut(t testing.TB, app *testApp) {
	t.Helper()
	for _, name := range append(sessionCookies, loginCookie) {
		assert.Empty(t, app.cookie(name), "cookie %s", name)
	}
	resp := app.get("/account")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "GET /account")
	assert.Equal(t, "/", resp.Header.Get("Location"), "GET /account goes home")
}

// assertSetsNoSession checks that a response stores no session in the
// browser: every session cookie it sets, it deletes.
func assertSetsNoSession(t testing.TB, resp *http.Response) {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Value != "" && c.MaxAge >= 0 && slices.Contains(sessionCookies, c.Name) {
			assert.Fail(t, "the response sets a session cookie", "Set-Cookie %s (%d bytes) on %s %s",
				c.Name, len(c.Value), resp.Request.Method, resp.Request.URL.Path)
		}
	}
}

// assertDeletesSession checks that a response deletes every session cookie.
func assertDeletesSession(t testing.TB, resp *http.Response) {
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

// assertDeletesNoSessionCookie checks that a response leaves every cookie of
// the session in place.
func assertDeletesNoSessionCookie(t testing.TB, resp *http.Response) {
	t.Helper()
	for _, c := range resp.Cookies() {
		if slices.Contains(sessionCookies, c.Name) && (c.MaxAge < 0 || c.Value == "") {
			assert.Fail(t, "the response deletes a session cookie", "Set-Cookie %s on %s %s", c.Name, resp.Request.Method, resp.Request.URL.Path)
		}
	}
}

// assertRefreshEndedSession checks the outcome of a refused refresh: the
// browser goes to the home page, every session cookie is deleted and none is
// set, /account refuses, FusionAuth heard refreshes refresh requests and
// nothing after them, and the app ended the session for reason.
func assertRefreshEndedSession(t testing.TB, resp response, app *testApp, idp *fusionauthtest.Server, refreshes int, reason string) {
	t.Helper()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assertDeletesSession(t, resp.Response)
	assertSetsNoSession(t, resp.Response)
	assertSessionEndedFor(t, app, reason)
	assertLoggedOut(t, app)
	assert.Equal(t, refreshes, requestsTo(idp, "/oauth2/token"), "the refreshes, and nothing after them")
	assert.Zero(t, requestsTo(idp, "/oauth2/userinfo"), "userinfo requests")
}

// assertLoginRefusedFor checks the app's log: the latest login the app
// refused, it refused for an error that contains reason. A refusal that names
// its reason fails when a timeout, or another check than its own, refused
// the login.
func assertLoginRefusedFor(t testing.TB, app *testApp, reason string) {
	t.Helper()
	assertLatestLogged(t, app.logs, "refusing a login", "err", reason)
}

// assertSessionEndedFor checks the app's log: the latest session the app
// ended, it ended for a reason that contains reason. what, if given, names
// the case in a failure.
func assertSessionEndedFor(t testing.TB, app *testApp, reason string, what ...any) {
	t.Helper()
	assertLatestLogged(t, app.logs, "ending the session", "reason", reason, what...)
}

// assertLatestLogged checks that the latest line of the log with the message
// msg has a value of key that contains want.
func assertLatestLogged(t testing.TB, log *lockedBuffer, msg, key, want string, what ...any) {
	t.Helper()
	require.NotEmpty(t, want, "the reason to look for in the log")
	values := log.values(msg, key)
	context := fmt.Sprintf("the %s of the latest %q in the app's log", key, msg)
	if len(what) > 0 {
		context = fmt.Sprint(what...) + ": " + context
	}
	if assert.NotEmpty(t, values, "%s: the app logged none:\n%s", context, log) {
		assert.Contains(t, values[len(values)-1], want, context)
	}
}

// assertErrorPage checks an answer is the styled error page with the status
// want: a clear message, never a 500 or a raw upstream error.
func assertErrorPage(t testing.TB, resp response, want int) {
	t.Helper()
	assert.Equal(t, want, resp.StatusCode, "%s %s: %s", resp.Request.Method, resp.Request.URL.Path, resp.body)
	assert.NotEmpty(t, elementText(resp.body, "error"), "%s %s explains what happened", resp.Request.Method, resp.Request.URL.Path)
	for _, leak := range []string{"oauth2:", "dial tcp", "context deadline", "Client.Timeout", "eyJ"} {
		assert.NotContains(t, resp.body, leak, "the error page shows no raw error or token")
	}
}

// lockedBuffer is a bytes.Buffer that the app's logger and the test can share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// values returns the value of key in each line of the log whose message is
// msg, unquoted, oldest first: "" for a line without key.
func (b *lockedBuffer) values(msg, key string) []string {
	var values []string
	for line := range strings.Lines(b.String()) {
		line = strings.TrimSuffix(line, "\n")
		if !strings.Contains(line, " msg="+msg+" ") && !strings.Contains(line, " msg="+strconv.Quote(msg)+" ") {
			continue
		}
		_, value, found := strings.Cut(line, " "+key+"=")
		switch {
		case !found:
			value = ""
		case strings.HasPrefix(value, `"`):
			if quoted, err := strconv.QuotedPrefix(value); err == nil {
				value, _ = strconv.Unquote(quoted)
			}
		default:
			value, _, _ = strings.Cut(value, " ")
		}
		values = append(values, value)
	}
	return values
}

package changebank_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkpointChecks are the promises the tutorial makes at the end of its steps, by the name
// its <!-- checkpoint: NAME --> lines use. Each returns an error that says what did not hold.
var checkpointChecks = map[string]func(app runningApp) error{
	"stub":    checkStub,
	"connect": checkConnect,
	"login":   checkLogin,
	"verify":  checkVerify,
	"session": checkSession,
	"refresh": checkRefresh,
	"logout":  checkLogout,
}

func checkpointNames() []string {
	names := make([]string, 0, len(checkpointChecks))
	for name := range checkpointChecks {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// The kickstart's users.
const (
	richard  = "richard@example.com" // registered to Changebank
	admin    = "admin@example.com"   // FusionAuth's administrator, not registered to Changebank
	password = "password"
)

// TestQuickstartCheckpoints builds the reader's application as it stands at each checkpoint
// and checks what the tutorial says the reader should see there, against the FusionAuth
// stand-in. Each checkpoint is built once; all builds share one go command.
func TestQuickstartCheckpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the reader's application at every checkpoint; skipped in -short mode")
	}
	md, stub, complete := loadTutorialInputs(t)
	checkpoints, problems := replayTutorial(md, stub, complete)
	require.Empty(t, problems, "TestQuickstartMatchesCode names these problems")
	require.NotEmpty(t, checkpoints)

	binaries := buildCheckpoints(t, checkpoints)
	for i, cp := range checkpoints {
		t.Run(fmt.Sprintf("%s at quickstart.md:%d", cp.name, cp.line), func(t *testing.T) {
			t.Parallel() // each runs its own app and stand-in
			assert.NoError(t, checkpointChecks[cp.name](startReaderApp(t, binaries[i])))
		})
	}

	// The checks are only worth something if they fail on an application that does not
	// keep the promise: each step's check fails on the step before it, and the stub's on the
	// first step, whose Log in no longer says "not connected".
	binaryOf := func(name string) string {
		for i, cp := range checkpoints {
			if cp.name == name {
				return binaries[i]
			}
		}
		t.Fatalf("no checkpoint %q", name)
		return ""
	}
	for _, tt := range []struct{ check, on string }{
		{"connect", "stub"}, {"login", "connect"}, {"verify", "login"}, {"session", "verify"},
		{"refresh", "session"}, {"logout", "refresh"}, {"stub", "connect"},
	} {
		t.Run(fmt.Sprintf("the %s check fails on the %s step", tt.check, tt.on), func(t *testing.T) {
			t.Parallel()
			err := checkpointChecks[tt.check](startReaderApp(t, binaryOf(tt.on)))
			assert.Error(t, err, "the %s checkpoint held on the application of the %s step", tt.check, tt.on)
		})
	}
}

// buildCheckpoints writes each checkpoint's files into a folder inside the module, so that the
// build uses the module's go.mod, and builds them all; it returns the binaries in order.
func buildCheckpoints(t *testing.T, checkpoints []checkpoint) []string {
	t.Helper()
	// The leading underscore keeps the folder out of ./... patterns while it exists.
	root, err := os.MkdirTemp(".", "_quickstart-check-")
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, os.RemoveAll(root)) })

	var packages, binaries []string
	for i, cp := range checkpoints {
		dir := filepath.Join(root, fmt.Sprintf("step%d-%s", i+1, cp.name))
		for name, content := range cp.files {
			file := filepath.Join(dir, filepath.FromSlash(name))
			require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
			require.NoError(t, os.WriteFile(file, content, 0o644))
		}
		packages = append(packages, "./"+filepath.ToSlash(dir))
		binaries = append(binaries, filepath.Join(root, "bin", filepath.Base(dir)))
	}
	cmd := exec.CommandContext(t.Context(), "go", append([]string{"build", "-o", filepath.Join(root, "bin") + string(filepath.Separator)}, packages...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the reader's application does not build at a checkpoint:\n%s", out)
	return binaries
}

// runningApp is the reader's application, started against its own FusionAuth stand-in.
type runningApp struct {
	url string
	idp *fusionauthtest.Server
	log *lockedBuffer // what the application printed so far
}

// lockedBuffer collects a process's output while the test reads it.
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

// startReaderApp runs binary as the reader runs `go run ./my-changebank`, but on a free port
// and against a stand-in whose Changebank application knows that port's callback URLs.
func startReaderApp(t *testing.T, binary string) runningApp {
	t.Helper()
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	port := freePort(t)
	appURL := "http://127.0.0.1:" + port
	registerCallbacks(t, idp, appURL)

	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), "PORT="+port, "APP_URL="+appURL, "ISSUER="+idp.URL(),
		"APP_SECRET_KEY=a-test-secret-key-of-at-least-32-characters")
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("the application's log:\n%s", log.String())
		}
	})

	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(appURL + "/")
		if err == nil {
			resp.Body.Close()
			return runningApp{url: appURL, idp: idp, log: log}
		}
		select {
		case err := <-exited:
			t.Fatalf("the application stopped before it answered (%v):\n%s", err, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer from %s: %v\n%s", appURL, err, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkStub: the home page offers Log in, Log in says it is not connected yet, and anyone can
// make change.
func checkStub(app runningApp) error {
	b := newBrowser()
	home, err := b.get(app.url + "/")
	if err != nil {
		return err
	}
	if home.status != http.StatusOK || !strings.Contains(home.body, `href="/login"`) {
		return fmt.Errorf("GET / = %d without a Login button", home.status)
	}
	login, err := b.get(app.url + "/login")
	if err != nil {
		return err
	}
	if login.status != http.StatusNotImplemented || !strings.Contains(login.body, "not connected to FusionAuth yet") {
		return fmt.Errorf(`GET /login = %d at %s, want 501 "not connected to FusionAuth yet"`, login.status, login.url)
	}
	return checkMakeChange(app, b)
}

// checkConnect: Log in sends the browser to FusionAuth's authorization endpoint with
// everything the client configuration promises (PKCE with S256, state, nonce, the scopes with
// offline_access, the callback URL), and FusionAuth shows its login form.
func checkConnect(app runningApp) error {
	b := newBrowser()
	b.followRedirects = false
	start, err := b.get(app.url + "/login")
	b.followRedirects = true
	if err != nil {
		return err
	}
	to, err := url.Parse(start.header.Get("Location"))
	if err != nil || start.status != http.StatusSeeOther || !strings.HasPrefix(to.String(), app.idp.URL()+"/oauth2/authorize?") {
		return fmt.Errorf("GET /login = %d to %q, want 303 to FusionAuth's /oauth2/authorize", start.status, start.header.Get("Location"))
	}
	query := to.Query()
	want := map[string]string{
		"response_type":         "code",
		"client_id":             "e9fdb985-9173-4e01-9d73-ac2d60d1dc8e",
		"redirect_uri":          app.url + "/callback",
		"scope":                 "openid email profile offline_access",
		"code_challenge_method": "S256",
	}
	for name, value := range want {
		if got := query.Get(name); got != value {
			return fmt.Errorf("the authorization request's %s is %q, want %q", name, got, value)
		}
	}
	for _, name := range []string{"state", "nonce", "code_challenge"} {
		if query.Get(name) == "" {
			return fmt.Errorf("the authorization request has no %s", name)
		}
	}
	form, err := b.get(to.String())
	if err != nil {
		return err
	}
	if !strings.Contains(form.body, `name="password"`) {
		return fmt.Errorf("FusionAuth's authorization endpoint answered %d without a login form", form.status)
	}
	return nil
}

// checkLogin: a logged-out visitor cannot see /account; richard logs in and sees his account
// and can make change; the administrator, who is not registered to Changebank, is refused.
func checkLogin(app runningApp) error {
	b := newBrowser()
	if err := checkLoggedOut(app, b); err != nil {
		return fmt.Errorf("before login: %w", err)
	}
	account, err := b.logIn(app, richard)
	if err != nil {
		return err
	}
	if account.url.Path != "/account" || !strings.Contains(account.body, richard) {
		return fmt.Errorf("richard's login ended at %s (%d), not on an account page that names him", account.url, account.status)
	}
	if err := checkMakeChange(app, b); err != nil {
		return fmt.Errorf("logged in: %w", err)
	}

	intruder := newBrowser()
	refused, err := intruder.logIn(app, admin)
	if err != nil {
		return err
	}
	if refused.url.Path == "/account" {
		return errors.New("the administrator, who is not registered to Changebank, reached /account")
	}
	if err := checkLoggedOut(app, intruder); err != nil {
		return fmt.Errorf("after the administrator's refused login: %w", err)
	}
	return nil
}

// checkVerify: a login whose tokens pass go-oidc's Verify and carry the nonce, but fail a check
// Verify leaves to the app, ends on the error page without a session; the same login without
// the fault, the control, reaches the account.
func checkVerify(app runningApp) error {
	faults := []fusionauthtest.Fault{
		fusionauthtest.FaultIDTokenExtraAudience,
		fusionauthtest.FaultIDTokenWrongAuthorizedParty,
		fusionauthtest.FaultIDTokenIssuedLongAgo,
		fusionauthtest.FaultTokenResponseDPoP,
	}
	for _, fault := range faults {
		app.idp.InjectFault(fault)
		b := newBrowser()
		refused, err := b.logIn(app, richard)
		app.idp.ClearFaults()
		if err != nil {
			return err
		}
		if want := "failed a security check"; refused.url.Path == "/account" || !strings.Contains(refused.body, want) {
			return fmt.Errorf("with %v, richard's login ended at %s (%d), not on an error page that says %q", fault, refused.url, refused.status, want)
		}
		if err := checkLoggedOut(app, b); err != nil {
			return fmt.Errorf("after the login refused for %v: %w", fault, err)
		}
	}
	account, err := newBrowser().logIn(app, richard)
	if err != nil {
		return err
	}
	if account.url.Path != "/account" {
		return fmt.Errorf("without a fault, richard's login ended at %s (%d), not on his account", account.url, account.status)
	}
	return nil
}

// checkSession: the access token is checked on every request, so once it has expired (and
// before the tutorial adds refresh) the session ends and /account sends the browser home.
func checkSession(app runningApp) error {
	b, err := logInWithShortTokens(app)
	if err != nil {
		return err
	}
	time.Sleep(shortTokenLifetime + time.Second)
	if err := checkLoggedOut(app, b); err != nil {
		return fmt.Errorf("once the access token has expired: %w", err)
	}
	if err := app.logSays("ending the session"); err != nil {
		return err
	}
	return nil
}

// checkRefresh: once the access token has expired, the next page refreshes it: the account is
// still there, with a new access-token cookie.
func checkRefresh(app runningApp) error {
	b, err := logInWithShortTokens(app)
	if err != nil {
		return err
	}
	appURL, err := url.Parse(app.url)
	if err != nil {
		return err
	}
	before := cookieValue(b, appURL, "oidc_access_token")
	time.Sleep(shortTokenLifetime + time.Second)
	account, err := b.get(app.url + "/account")
	if err != nil {
		return err
	}
	if account.url.Path != "/account" || !strings.Contains(account.body, richard) {
		return fmt.Errorf("once the access token has expired, /account ended at %s (%d), not on richard's account", account.url, account.status)
	}
	if after := cookieValue(b, appURL, "oidc_access_token"); after == "" || after == before {
		return errors.New("the page after the access token expired did not store a new access token")
	}
	if err := app.logSays("refreshed the session"); err != nil {
		return err
	}
	return nil
}

// shortTokenLifetime is the access-token lifetime of the session and refresh checks: long enough
// for the login to reach the account page, short enough to wait for.
const shortTokenLifetime = 3 * time.Second

// logInWithShortTokens shortens the stand-in's access tokens to shortTokenLifetime and logs
// richard in, who must reach his account.
func logInWithShortTokens(app runningApp) (*browser, error) {
	ttl := int(shortTokenLifetime / time.Second)
	if err := patchApplication(app.idp, map[string]any{"jwtConfiguration": map[string]any{"timeToLiveInSeconds": ttl}}); err != nil {
		return nil, err
	}
	b := newBrowser()
	account, err := b.logIn(app, richard)
	if err != nil {
		return nil, err
	}
	if account.url.Path != "/account" {
		return nil, fmt.Errorf("richard's login ended at %s (%d), not on his account", account.url, account.status)
	}
	return b, nil
}

// cookieValue is the value of the browser's cookie called name for u, or "".
func cookieValue(b *browser, u *url.URL, name string) string {
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// checkLogout: after Log out the account is gone, logging in again asks for the password, the
// log gives the Logout API's answer, and a copy of the session cookies taken before logout
// can no longer be refreshed.
func checkLogout(app runningApp) error {
	// Access tokens of a second, so that the copy below needs its refresh token soon.
	if err := patchApplication(app.idp, map[string]any{"jwtConfiguration": map[string]any{"timeToLiveInSeconds": 1}}); err != nil {
		return err
	}
	b := newBrowser()
	if _, err := b.logIn(app, richard); err != nil {
		return err
	}
	appURL, err := url.Parse(app.url)
	if err != nil {
		return err
	}
	// What someone who copied the cookies out of the browser holds. Once its access token
	// has expired, the copy works only as long as its refresh token does.
	copied := b.client.Jar.Cookies(appURL)
	time.Sleep(2 * time.Second)
	if refreshed, err := browserWith(appURL, copied).get(app.url + "/account"); err != nil {
		return err
	} else if refreshed.url.Path != "/account" || !strings.Contains(refreshed.body, richard) {
		return fmt.Errorf("before logout, the copied cookies with an expired access token ended at %s (%d), not on richard's account: the copy cannot show what logout changes", refreshed.url, refreshed.status)
	}

	home, err := b.post(app.url, "/logout", nil)
	if err != nil {
		return err
	}
	if home.status != http.StatusOK || home.url.String() != app.url+"/" {
		return fmt.Errorf("Logout ended at %s (%d), not on the home page", home.url, home.status)
	}
	if err := checkLoggedOut(app, b); err != nil {
		return fmt.Errorf("after logout: %w", err)
	}
	again, err := b.get(app.url + "/login")
	if err != nil {
		return err
	}
	if !strings.HasPrefix(again.url.String(), app.idp.URL()) || !strings.Contains(again.body, `name="password"`) {
		return fmt.Errorf("Login after logout ended at %s (%d), not on FusionAuth's password form", again.url, again.status)
	}
	if err := app.logSays(`revocation=ok`); err != nil {
		return fmt.Errorf("after logout: %w", err)
	}
	time.Sleep(2 * time.Second) // the copy's access token expires again
	stolen, err := browserWith(appURL, copied).get(app.url + "/account")
	if err != nil {
		return err
	}
	if stolen.url.Path == "/account" {
		return errors.New("after logout, a copy of the session cookies taken before it still refreshes and reaches /account: the refresh token was not revoked at FusionAuth")
	}
	return nil
}

// logSays waits a moment for the application's log to hold want: the log reaches the test
// through a pipe, a little after the page it was written for.
func (app runningApp) logSays(want string) error {
	for deadline := time.Now().Add(2 * time.Second); !strings.Contains(app.log.String(), want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("the application's log does not say %q", want)
		}
	}
	return nil
}

// browserWith is a new browser holding cookies for u, as if copied from another browser.
func browserWith(u *url.URL, cookies []*http.Cookie) *browser {
	b := newBrowser()
	b.client.Jar.SetCookies(u, cookies)
	return b
}

// checkLoggedOut: /account sends the browser to the home page.
func checkLoggedOut(app runningApp, b *browser) error {
	b.followRedirects = false
	defer func() { b.followRedirects = true }()
	resp, err := b.get(app.url + "/account")
	if err != nil {
		return err
	}
	if resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/" {
		return fmt.Errorf("GET /account = %d to %q, want 303 to /", resp.status, resp.header.Get("Location"))
	}
	return nil
}

// checkMakeChange: 0.29 is 5 nickels and 4 pennies.
func checkMakeChange(app runningApp, b *browser) error {
	resp, err := b.post(app.url, "/make-change", url.Values{"amount": {"0.29"}})
	if err != nil {
		return err
	}
	if want := "We can make change for $0.29 with 5 nickels and 4 pennies!"; resp.status != http.StatusOK || !strings.Contains(resp.body, want) {
		return fmt.Errorf("POST /make-change 0.29 = %d at %s, without %q", resp.status, resp.url, want)
	}
	return nil
}

// browser is an HTTP client with cookies, which follows redirects like a browser.
type browser struct {
	client          *http.Client
	followRedirects bool
}

type page struct {
	url    *url.URL // where the browser ended up
	status int
	header http.Header
	body   string
}

func newBrowser() *browser {
	jar, _ := cookiejar.New(nil) // cookiejar.New never fails without options
	b := &browser{followRedirects: true}
	b.client = &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		if !b.followRedirects {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

// metaRefresh finds the redirect of a page that moves on by itself, as FusionAuth's
// "Logging out" page does once its hidden logout frames have loaded.
var metaRefresh = regexp.MustCompile(`(?i)<meta http-equiv="refresh" content="\d+;\s*url=([^"]+)">`)

func (b *browser) do(req *http.Request) (page, error) {
	for refreshes := 0; ; refreshes++ {
		resp, err := b.client.Do(req)
		if err != nil {
			return page{}, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		p := page{url: resp.Request.URL, status: resp.StatusCode, header: resp.Header, body: string(body)}
		m := metaRefresh.FindStringSubmatch(p.body)
		if err != nil || m == nil || !b.followRedirects || refreshes == 5 {
			return p, err
		}
		next, err := p.url.Parse(html.UnescapeString(m[1]))
		if err != nil {
			return p, err
		}
		if req, err = http.NewRequest(http.MethodGet, next.String(), nil); err != nil {
			return p, err
		}
	}
}

func (b *browser) get(target string) (page, error) {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return page{}, err
	}
	return b.do(req)
}

// post sends a form from a page of origin, with the headers a browser adds.
func (b *browser) post(origin, path string, form url.Values) (page, error) {
	req, err := http.NewRequest(http.MethodPost, origin+path, strings.NewReader(form.Encode()))
	if err != nil {
		return page{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

// logIn clicks Login, fills in FusionAuth's form with email and the password, and returns
// the page the browser lands on.
func (b *browser) logIn(app runningApp, email string) (page, error) {
	form, err := b.get(app.url + "/login")
	if err != nil {
		return page{}, err
	}
	if !strings.HasPrefix(form.url.String(), app.idp.URL()) || !strings.Contains(form.body, `name="password"`) {
		return page{}, fmt.Errorf("Login led to %s (%d), not to FusionAuth's login form", form.url, form.status)
	}
	values := form.url.Query()
	values.Set("loginId", email)
	values.Set("password", password)
	return b.post(app.idp.URL(), "/oauth2/authorize", values)
}

// registerCallbacks tells the stand-in's Changebank application about appURL's callback and
// logout URLs, as an administrator would for an app that does not run on localhost:5000.
func registerCallbacks(t *testing.T, idp *fusionauthtest.Server, appURL string) {
	t.Helper()
	require.NoError(t, patchApplication(idp, map[string]any{"oauthConfiguration": map[string]any{
		"authorizedRedirectURLs": []string{appURL + "/callback", appURL + "/logout"},
		"logoutURL":              appURL + "/logout",
	}}))
}

// patchApplication changes the stand-in's Changebank application through the admin API, as
// an administrator would.
func patchApplication(idp *fusionauthtest.Server, application map[string]any) error {
	const applicationID = "e9fdb985-9173-4e01-9d73-ac2d60d1dc8e" // the kickstart's
	body, err := json.Marshal(map[string]any{"application": application})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPatch, idp.URL()+"/api/application/"+applicationID, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", idp.APIKey())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PATCH /api/application/%s = %d", applicationID, resp.StatusCode)
	}
	return nil
}

// freePort returns a local port nothing listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, err := net.SplitHostPort(l.Addr().String())
	require.NoError(t, err)
	require.NoError(t, l.Close())
	return port
}

// The login's seam (login.go): the login*.go files, copied unchanged next to
// another application's main.go, build and log that application's users in
// and out. If a login file named anything of Changebank, the copy would not
// build, and the compiler's message says what it named.

package main

import (
	"encoding/json"
	"go/format"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// anotherAppMain is a whole application that is not Changebank: one page
// that greets the logged-in user. With the login*.go files beside it, it is
// what porting the login to an app of one's own takes.
const anotherAppMain = `// Command hello greets its users by the email they log in with at
// FusionAuth. The login is the login*.go files, copied unchanged; this file
// fills in their loginConfig and mounts what newLogin returns.
package main

import (
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"
)

var page = template.Must(template.New("page").Parse("<!doctype html><title>Hello</title>\n" +
	"{{with .Email}}<p>Hello, {{.}}</p><form method=post action=/logout><button>Log out</button></form>\n" +
	"{{else}}<p>{{.Message}}</p><a href=/login>Log in</a>{{end}}\n"))

func render(w http.ResponseWriter, status int, email, message string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = page.Execute(w, struct{ Email, Message string }{email, message})
}

// showError is how the login answers with a message.
func showError(w http.ResponseWriter, r *http.Request, status int, message string) {
	render(w, status, "", message)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
}

func run() error {
	appURL, err := url.Parse(os.Getenv("APP_URL")) // such as http://localhost:8080
	if err != nil {
		return err
	}
	secretKey := os.Getenv("APP_SECRET_KEY")
	if len(secretKey) < 32 {
		return errors.New("APP_SECRET_KEY must be at least 32 characters")
	}
	auth, err := newLogin(loginConfig{
		Issuer: os.Getenv("ISSUER"), ClientID: os.Getenv("CLIENT_ID"), ClientSecret: os.Getenv("CLIENT_SECRET"),
		AppURL: appURL, SecretKeys: [][]byte{[]byte(secretKey)},
		IdleTimeout: 15 * time.Minute, MaxLifetime: 8 * time.Hour,
		AfterLogin: "/hello", AfterLogout: "/",
		ShowError: showError, Logger: slog.Default(), Now: time.Now,
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /{$}", auth.redirectIfLoggedIn(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		render(w, http.StatusOK, "", "You are not logged in.")
	})))
	mux.Handle("GET /hello", auth.requireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		render(w, http.StatusOK, currentUser(r.Context()).Email, "")
	})))
	mux.Handle("GET /login", auth.start)
	mux.Handle("GET /callback", auth.callback)
	mux.Handle("POST /logout", auth.logout)
	mux.Handle("GET /logout", auth.logoutReturn)

	// The logout form's answer redirects to FusionAuth, and browsers check
	// form-action against redirects too.
	csp := "default-src 'self'; form-action 'self' " + auth.issuerOrigin
	srv := &http.Server{Addr: ":" + os.Getenv("PORT"), ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", csp)
			mux.ServeHTTP(w, r)
		})}
	slog.Info("hello is listening", "url", appURL)
	return srv.ListenAndServe()
}
`

// TestLoginCarriesIntoAnotherApp builds anotherAppMain with the login*.go
// files, runs it against the FusionAuth stand-in, and logs richard in and out
// of it.
func TestLoginCarriesIntoAnotherApp(t *testing.T) {
	formatted, err := format.Source([]byte(anotherAppMain))
	require.NoError(t, err, "the other app's main.go parses")
	require.Equal(t, anotherAppMain, string(formatted), "the other app's main.go is gofmt'ed: it is an example")

	binary := buildWithLogin(t, anotherAppMain)
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := startAnotherApp(t, binary, idp)

	// Logged out: the home page offers Log in, the greeting sends home.
	home := app.get("/")
	require.Equal(t, http.StatusOK, home.StatusCode, home.body)
	require.Contains(t, home.body, "href=/login")
	require.NotContains(t, home.body, testUserEmail)
	hello := app.get("/hello")
	require.Equal(t, http.StatusSeeOther, hello.StatusCode, hello.body)
	require.Equal(t, "/", hello.Header.Get("Location"))

	// Log in at FusionAuth's form; the callback lands on AfterLogin.
	callback, err := app.loginCallback(testUserEmail, testUserPassword)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(callback, app.url+"/callback?"), "FusionAuth sends the browser to the app's callback, not %s", callback)
	landing := app.get(callback)
	require.Equal(t, http.StatusSeeOther, landing.StatusCode, landing.body)
	assert.Equal(t, "/hello", landing.Header.Get("Location"))

	hello = app.get("/hello")
	assert.Equal(t, http.StatusOK, hello.StatusCode, hello.body)
	assert.Contains(t, hello.body, "Hello, "+testUserEmail)
	assert.Equal(t, "default-src 'self'; form-action 'self' "+idp.URL(), hello.Header.Get("Content-Security-Policy"),
		"issuerOrigin is FusionAuth's origin")
	home = app.get("/")
	assert.Equal(t, http.StatusSeeOther, home.StatusCode, "logged in, home goes to AfterLogin: %s", home.body)
	assert.Equal(t, "/hello", home.Header.Get("Location"))

	// Log out: the browser goes to FusionAuth's end-session endpoint, and the
	// app no longer knows the user.
	logout := app.post("/logout", nil)
	require.Equal(t, http.StatusSeeOther, logout.StatusCode, logout.body)
	endSession, err := url.Parse(logout.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, discoveredEndSession(t, idp), endSession.Scheme+"://"+endSession.Host+endSession.Path)
	assert.Equal(t, testClientID, endSession.Query().Get("client_id"))
	assert.Equal(t, app.url+"/logout", endSession.Query().Get("post_logout_redirect_uri"))

	hello = app.get("/hello")
	assert.Equal(t, http.StatusSeeOther, hello.StatusCode, "after logout: %s", hello.body)
	assert.Equal(t, "/", hello.Header.Get("Location"))
	home = app.get("/")
	assert.Equal(t, http.StatusOK, home.StatusCode, home.body)
	assert.NotContains(t, home.body, testUserEmail)

	// FusionAuth ends its session and sends the browser back through
	// GET /logout, which lands on AfterLogout.
	back := app.get(followLogoutPage(t, app.get(endSession.String())))
	assert.Equal(t, http.StatusSeeOther, back.StatusCode, back.body)
	assert.Equal(t, "/", back.Header.Get("Location"))
}

// buildWithLogin copies every login*.go file of this package, unchanged, into
// a folder at the module's root (so the build uses its go.mod, and the folder
// is not inside complete-application, which the tutorial's test reads) beside a main.go
// holding mainGo, builds it, and returns the binary. A build error fails the
// test with the compiler's output.
func buildWithLogin(t *testing.T, mainGo string) string {
	t.Helper()
	// The leading underscore keeps the folder out of ./... patterns while it exists.
	dir, err := os.MkdirTemp("..", "_seam-check-")
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, os.RemoveAll(dir)) })

	files, err := filepath.Glob("login*.go")
	require.NoError(t, err)
	files = slices.DeleteFunc(files, func(name string) bool { return strings.HasSuffix(name, "_test.go") })
	require.Contains(t, files, "login.go")
	for _, name := range files {
		content, err := os.ReadFile(name)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), content, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(mainGo), 0o644))

	binary := filepath.Join(dir, "hello")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", filepath.Join(filepath.Base(dir), "hello"), "./"+filepath.Base(dir))
	build.Dir = ".."
	out, err := build.CombinedOutput()
	require.NoError(t, err, "the login files %v do not build in another app:\n%s", files, out)
	return binary
}

// startAnotherApp runs binary on a free port against idp, whose Changebank
// application learns that port's callback and logout URLs, until the test
// ends. It returns a browser on it.
func startAnotherApp(t *testing.T, binary string, idp *fusionauthtest.Server) *testApp {
	t.Helper()
	addr := freeAddr(t)
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	appURL := "http://" + addr
	registerRedirectURLs(t, idp, appURL)

	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), "PORT="+port, "APP_URL="+appURL, "ISSUER="+idp.URL(),
		"CLIENT_ID="+testClientID, "CLIENT_SECRET="+kickstartClientSecret, "APP_SECRET_KEY="+testSecretKey)
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("the app's log:\n%s", log.String())
		}
	})

	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(appURL + "/")
		if err == nil {
			resp.Body.Close()
			return &testApp{t: t, url: appURL, idp: idp, client: newBrowserClient(t)}
		}
		select {
		case <-exited:
			t.Fatalf("the app stopped before it answered (%v):\n%s", waitErr, log.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "no answer from %s: %v\n%s", appURL, err, log.String())
		time.Sleep(20 * time.Millisecond)
	}
}

// discoveredEndSession is the end-session endpoint FusionAuth's discovery
// document names.
func discoveredEndSession(t *testing.T, idp *fusionauthtest.Server) string {
	t.Helper()
	resp, err := http.Get(idp.URL() + "/.well-known/openid-configuration")
	require.NoError(t, err)
	defer resp.Body.Close()
	var doc struct {
		EndSession string `json:"end_session_endpoint"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	require.NotEmpty(t, doc.EndSession)
	return doc.EndSession
}

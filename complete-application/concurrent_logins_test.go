package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
)

// TestConcurrentLoginFlowsAllSucceed starts many complete logins at once,
// each in its own browser (an HTTP client with its own cookie jar): /login,
// FusionAuth's login form, the callback, /account. Every one must end on the
// account page; the test reports the rate. The app and the FusionAuth
// stand-in run in this process, so the rate is shared between them (the
// stand-in alone does about 300-380 logins/s on the 2-core build machine).
//
// CHANGEBANK_LOGIN_FLOWS (default 200) sets the number of flows:
//
//	CHANGEBANK_LOGIN_FLOWS=1000 go test ./complete-application -run TestConcurrentLoginFlowsAllSucceed -v
func TestConcurrentLoginFlowsAllSucceed(t *testing.T) {
	flows := 200
	if n, err := strconv.Atoi(os.Getenv("CHANGEBANK_LOGIN_FLOWS")); err == nil && n > 0 {
		flows = n
	}
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	// The production timeout: the test helpers shorten it for fault tests,
	// and a thousand logins queue longer than that for FusionAuth's tokens.
	app.auth.httpClient.Timeout = upstreamTimeout
	transport := &http.Transport{MaxIdleConnsPerHost: flows, MaxIdleConns: 2 * flows}
	t.Cleanup(transport.CloseIdleConnections)

	durations := make([]time.Duration, flows)
	errs := make([]error, flows)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range flows {
		wg.Go(func() {
			<-start
			began := time.Now()
			errs[i] = loginFlow(app.url, idp.URL(), transport)
			durations[i] = time.Since(began)
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(began)

	failed := slices.DeleteFunc(slices.Clone(errs), func(err error) bool { return err == nil })
	slices.Sort(durations)
	t.Logf("%d concurrent login flows in %s: %.0f logins/s, %d errors; per flow p50 %s, p99 %s, max %s",
		flows, elapsed.Round(time.Millisecond), float64(flows)/elapsed.Seconds(), len(failed),
		durations[flows/2].Round(time.Millisecond), durations[flows*99/100].Round(time.Millisecond),
		durations[flows-1].Round(time.Millisecond))
	assert.Empty(t, failed, "failed login flows")
	assert.Equal(t, flows, requestsTo(idp, "/oauth2/token"), "one token request per login")
}

// loginFlow is one user logging in with a fresh browser: the steps of
// testApp.login, written to run in a goroutine, so it returns what went
// wrong instead of failing the test.
func loginFlow(appURL, idpURL string, transport http.RoundTripper) error {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return err
	}
	client := &http.Client{
		Transport: transport,
		Jar:       jar,
		Timeout:   30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	// do sends req and reads the answer, which must have one of the statuses want.
	do := func(req *http.Request, want ...int) (*http.Response, string, error) {
		resp, err := client.Do(req)
		if err != nil {
			return nil, "", fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, "", fmt.Errorf("%s %s: reading the body: %w", req.Method, req.URL.Path, err)
		}
		if !slices.Contains(want, resp.StatusCode) {
			return nil, "", fmt.Errorf("%s %s: status %d, want %v", req.Method, req.URL.Path, resp.StatusCode, want)
		}
		return resp, string(body), nil
	}
	get := func(target string, want ...int) (*http.Response, string, error) {
		req, err := http.NewRequest(http.MethodGet, target, nil)
		if err != nil {
			return nil, "", err
		}
		return do(req, want...)
	}

	resp, _, err := get(appURL+"/login", http.StatusSeeOther)
	if err != nil {
		return err
	}
	authorize, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return fmt.Errorf("GET /login: %w", err)
	}
	if _, _, err := get(authorize.String(), http.StatusOK); err != nil {
		return err
	}
	form := authorize.Query()
	form.Set("loginId", testUserEmail)
	form.Set("password", testUserPassword)
	req, err := http.NewRequest(http.MethodPost, idpURL+"/oauth2/authorize", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, _, err = do(req, http.StatusFound, http.StatusSeeOther); err != nil {
		return err
	}
	// FusionAuth's consent step comes before the callback.
	if location := resp.Header.Get("Location"); strings.HasPrefix(location, "/") {
		if resp, _, err = get(idpURL+location, http.StatusFound); err != nil {
			return err
		}
	}
	if resp, _, err = get(resp.Header.Get("Location"), http.StatusSeeOther); err != nil {
		return err
	}
	if location := resp.Header.Get("Location"); location != "/account" {
		return fmt.Errorf("GET /callback: redirect to %q, want /account", location)
	}
	_, account, err := get(appURL+"/account", http.StatusOK)
	if err != nil {
		return err
	}
	if got := elementText(account, "email"); got != testUserEmail {
		return fmt.Errorf("GET /account: email %q, want %q", got, testUserEmail)
	}
	return nil
}

// TestTwoTabsLoggingInAtOnce: one browser starts a login in two tabs, and
// the tabs finish in the opposite order. Both land on the account page: the
// second start does not discard the first one's state, nonce and verifier,
// and the first callback does not discard the second's.
func TestTwoTabsLoggingInAtOnce(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	first := app.startLogin()
	second := app.startLogin()

	// FusionAuth's form in each tab, without its SSO cookie from the other.
	secondCallback := app.newBrowser().signIn(second, testUserEmail, testUserPassword)
	firstCallback := app.newBrowser().signIn(first, testUserEmail, testUserPassword)
	for _, callback := range []string{secondCallback, firstCallback} {
		resp := app.get(callback)
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
		assert.Equal(t, "/account", resp.Header.Get("Location"))
	}
	assert.Empty(t, app.cookie(loginCookie), "no login is left pending")
	assert.Equal(t, http.StatusOK, app.get("/account").StatusCode)
}

package main

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	browsers := make([]*testApp, flows)
	for i := range browsers {
		browsers[i] = app.newBrowser()
		browsers[i].client.Transport = transport
		browsers[i].client.Timeout = 30 * time.Second
	}

	durations := make([]time.Duration, flows)
	errs := make([]error, flows)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, browser := range browsers {
		wg.Go(func() {
			<-start
			began := time.Now()
			errs[i] = logInAndOpenAccount(browser)
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

// logInAndOpenAccount logs the kickstart's user in and opens the account
// page, returning what went wrong: it runs in a goroutine.
func logInAndOpenAccount(browser *testApp) error {
	if err := browser.logInAs(testUserEmail, testUserPassword); err != nil {
		return err
	}
	account, err := browser.fetch("/account")
	if err != nil {
		return err
	}
	if err := wantStatus(account, http.StatusOK); err != nil {
		return err
	}
	if got := elementText(account.body, "email"); got != testUserEmail {
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
	first, err := app.startLogin()
	require.NoError(t, err)
	second, err := app.startLogin()
	require.NoError(t, err)

	// FusionAuth's form in each tab, without its SSO cookie from the other.
	secondCallback, err := app.newBrowser().signIn(second, testUserEmail, testUserPassword)
	require.NoError(t, err)
	firstCallback, err := app.newBrowser().signIn(first, testUserEmail, testUserPassword)
	require.NoError(t, err)
	for _, callback := range []string{secondCallback, firstCallback} {
		resp := app.get(callback)
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
		assert.Equal(t, "/account", resp.Header.Get("Location"))
	}
	assert.Empty(t, app.cookie(loginCookie), "no login is left pending")
	assert.Equal(t, http.StatusOK, app.get("/account").StatusCode)
}

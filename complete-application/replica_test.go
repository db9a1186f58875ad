package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// balancer is a load balancer in front of replicas of the application: all
// share one public APP_URL, and the test chooses which replica serves the
// next request.
type balancer struct {
	url      string
	replicas []*httputil.ReverseProxy

	mu     sync.Mutex
	next   int
	served []string // "replica METHOD path", in order
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	i := b.next
	b.served = append(b.served, strconv.Itoa(i)+" "+r.Method+" "+r.URL.Path)
	b.mu.Unlock()
	b.replicas[i].ServeHTTP(w, r)
}

// use sends the following requests to replica i.
func (b *balancer) use(i int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next = i
}

// startReplicas runs one instance of the program per secret key, each on its
// own port, behind a balancer whose URL is every instance's APP_URL.
func startReplicas(t *testing.T, idp *fusionauthtest.Server, secretKeys ...string) *balancer {
	t.Helper()
	front := httptest.NewUnstartedServer(nil)
	b := &balancer{url: "http://" + front.Listener.Addr().String()}
	for _, key := range secretKeys {
		addr := freeAddr(t)
		_, port, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		startRunAt(t, addr, map[string]string{"APP_URL": b.url, "PORT": port, "ISSUER": idp.URL(), "APP_SECRET_KEY": key})
		target, err := url.Parse("http://" + addr)
		require.NoError(t, err)
		// The proxy keeps the browser's Host header, as a load balancer
		// does, so same-origin checks see the public URL.
		b.replicas = append(b.replicas, httputil.NewSingleHostReverseProxy(target))
	}
	front.Config.Handler = b
	front.Start()
	t.Cleanup(front.Close)
	registerRedirectURLs(t, idp, b.url)
	return b
}

// TestReplicasWithOneKeyShareLoginsAndSessions: with one APP_SECRET_KEY, a
// login started on one replica finishes on another, and the session works
// on both. No state lives on a server.
func TestReplicasWithOneKeyShareLoginsAndSessions(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	lb := startReplicas(t, idp, testSecretKey, testSecretKey)
	browser := &testApp{t: t, url: lb.url, idp: idp, client: newBrowserClient(t)}

	lb.use(0)
	authorize, err := browser.startLogin()
	require.NoError(t, err)
	callback, err := browser.signIn(authorize, testUserEmail, testUserPassword)
	require.NoError(t, err)
	lb.use(1)
	resp := browser.get(callback)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "the callback on the other replica: %s", resp.body)
	assert.Equal(t, "/account", resp.Header.Get("Location"))
	lb.use(0)
	account := browser.get("/account")
	assert.Equal(t, http.StatusOK, account.StatusCode, account.body)
	assert.Equal(t, testUserEmail, elementText(account.body, "email"))
	lb.use(1)
	change := browser.post("/make-change", url.Values{"amount": {"0.58"}})
	assert.Equal(t, "We can make change for $0.58 with 11 nickels and 3 pennies!", elementText(change.body, "change-result"))

	lb.mu.Lock()
	defer lb.mu.Unlock()
	assert.Equal(t, []string{"0 GET /login", "1 GET /callback", "0 GET /account", "1 POST /make-change"}, lb.served)
}

// TestReplicasWithDifferentKeysLogTheUserOutCleanly: a replica with another
// APP_SECRET_KEY cannot open the cookies, so it treats the browser as logged
// out (and deletes the cookies) instead of failing; a login it did not start
// is refused with a clear page, before any token request.
func TestReplicasWithDifferentKeysLogTheUserOutCleanly(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	lb := startReplicas(t, idp, testSecretKey, "a-different-secret-key-of-32-characters-or-more")
	browser := &testApp{t: t, url: lb.url, idp: idp, client: newBrowserClient(t)}

	// Logged in on the first replica, the user lands on the second.
	lb.use(0)
	require.NoError(t, browser.logInAs(testUserEmail, testUserPassword))
	require.Equal(t, http.StatusOK, browser.get("/account").StatusCode)
	lb.use(1)
	resp := browser.get("/account")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assertDeletesSession(t, resp.Response)
	home := browser.get("/")
	assert.Equal(t, http.StatusOK, home.StatusCode, "the home page, logged out")
	assert.Contains(t, home.body, `id="login"`)
	lb.use(0)
	assert.Equal(t, http.StatusSeeOther, browser.get("/account").StatusCode, "the session is gone everywhere")

	// A login started on the first replica cannot finish on the second.
	browser = &testApp{t: t, url: lb.url, idp: idp, client: newBrowserClient(t)}
	lb.use(0)
	callback, err := browser.loginCallback(testUserEmail, testUserPassword)
	require.NoError(t, err)
	lb.use(1)
	idp.ResetRequests()
	resp = browser.get(callback)
	assertErrorPage(t, resp, http.StatusBadRequest)
	assertSetsNoSession(t, resp.Response)
	assert.Zero(t, requestsTo(idp, "/oauth2/token"), "no token request for a login the replica cannot open")

	// The positive control: a login entirely on the second replica works.
	browser = &testApp{t: t, url: lb.url, idp: idp, client: newBrowserClient(t)}
	require.NoError(t, browser.logInAs(testUserEmail, testUserPassword))
	assert.Equal(t, testUserEmail, elementText(browser.get("/account").body, "email"))
}

// What tests put between the application and FusionAuth, or in front of the
// application: a front that takes FusionAuth away, makes it hang or rewrites
// its token answers; one that answers with redirects; a load balancer over
// replicas of the program.

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/require"
)

// idpFront serves the FusionAuth stand-in at an address the test controls,
// and that address is the issuer the application is configured with. The
// test can then do to FusionAuth what a network or a hostile server would:
// take it away, make it hang, bring it back, or rewrite its token responses.
type idpFront struct {
	t    testing.TB
	idp  *fusionauthtest.Server
	addr string // host:port of the front, stable across down and up
	url  string // the issuer

	mu  sync.Mutex
	srv *http.Server // nil while down
	// hanging makes every request wait until the client gives up.
	hanging bool
	// rewriteToken, if set, edits the token endpoint's JSON answer to the
	// given grant type before the application sees it.
	rewriteToken func(grant string, body map[string]any)
	// answers are the token endpoint's answers by grant type, before any
	// rewrite, oldest first.
	answers []tokenAnswer

	// released is closed at the end of the test, so hanging requests return.
	released chan struct{}
}

// newIDPFront starts the stand-in behind a front on a free local port.
func newIDPFront(t testing.TB) *idpFront {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &idpFront{t: t, addr: listener.Addr().String(), released: make(chan struct{})}
	f.url = "http://" + f.addr
	f.idp = fusionauthtest.NewServer(t, fusionauthtest.Options{Issuer: f.url})
	f.serve(listener)
	t.Cleanup(func() {
		close(f.released)
		f.down()
	})
	return f
}

// newApp starts the application with the front as its issuer.
func (f *idpFront) newApp(t testing.TB) *testApp {
	t.Helper()
	return newAppFor(t, f.idp, f.url)
}

func (f *idpFront) serve(listener net.Listener) {
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	f.mu.Lock()
	f.srv = srv
	f.mu.Unlock()
	go func() { _ = srv.Serve(listener) }()
}

// down closes the front and every connection to it: FusionAuth is gone, and
// connecting to it is refused.
func (f *idpFront) down() {
	f.mu.Lock()
	srv := f.srv
	f.srv = nil
	f.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// up serves FusionAuth at the same address again.
func (f *idpFront) up() {
	f.t.Helper()
	listener, err := net.Listen("tcp", f.addr)
	require.NoError(f.t, err, "listening on %s again", f.addr)
	f.serve(listener)
}

// setHanging makes FusionAuth accept connections but never answer, or
// answer again.
func (f *idpFront) setHanging(hanging bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hanging = hanging
}

// setTokenRewrite installs (or, with nil, removes) an edit of the token
// endpoint's answers.
func (f *idpFront) setTokenRewrite(rewrite func(grant string, body map[string]any)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rewriteToken = rewrite
}

// tokenAnswer is one answer of the token endpoint.
type tokenAnswer struct {
	grant string
	body  map[string]any
}

// lastAnswer is the token endpoint's latest answer to the grant type.
func (f *idpFront) lastAnswer(grant string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range slices.Backward(f.answers) {
		if a.grant == grant {
			return maps.Clone(a.body)
		}
	}
	require.Fail(f.t, "no token answer yet", "grant %s", grant)
	return nil
}

// lastAccessToken is the access token FusionAuth issued most recently.
func (f *idpFront) lastAccessToken() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	require.NotEmpty(f.t, f.answers, "no access token issued yet")
	token, _ := f.answers[len(f.answers)-1].body["access_token"].(string)
	return token
}

func (f *idpFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	hanging, rewrite := f.hanging, f.rewriteToken
	f.mu.Unlock()
	if hanging {
		select {
		case <-r.Context().Done():
		case <-f.released:
		}
		return
	}
	if r.URL.Path != "/oauth2/token" {
		f.idp.ServeHTTP(w, r)
		return
	}

	// Read the grant type without taking the body from the stand-in.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))

	rec := httptest.NewRecorder()
	f.idp.ServeHTTP(rec, r)
	answer := map[string]any{}
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
		copyResponse(w, rec)
		return
	}
	f.mu.Lock()
	f.answers = append(f.answers, tokenAnswer{grant: form.Get("grant_type"), body: maps.Clone(answer)})
	f.mu.Unlock()
	if rewrite == nil {
		copyResponse(w, rec)
		return
	}
	rewrite(form.Get("grant_type"), answer)
	rewritten, err := json.Marshal(answer)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	rec.Body = bytes.NewBuffer(rewritten)
	rec.Header().Set("Content-Length", strconv.Itoa(len(rewritten)))
	copyResponse(w, rec)
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for name, values := range rec.Header() {
		w.Header()[name] = values
	}
	w.WriteHeader(rec.Code)
	_, _ = rec.Body.WriteTo(w)
}

// redirectingFront serves the stand-in, except that the paths it is told
// answer with a 307 to elsewhere, as a hijacked or misconfigured proxy would.
type redirectingFront struct {
	idp       *fusionauthtest.Server
	elsewhere string
	redirect  atomic.Pointer[[]string]
}

func (f *redirectingFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if paths := f.redirect.Load(); paths != nil {
		for _, p := range *paths {
			if r.URL.Path == p {
				http.Redirect(w, r, f.elsewhere+r.URL.Path, http.StatusTemporaryRedirect)
				return
			}
		}
	}
	f.idp.ServeHTTP(w, r)
}

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

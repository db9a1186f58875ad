// What tests put in front of FusionAuth: idpFront serves the stand-in at
// an address the test controls, which is the issuer the application is
// configured with, and does to FusionAuth what a network, a proxy or a
// hostile server would.

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/require"
)

// idpFront serves the FusionAuth stand-in at an address the test controls,
// and that address is the issuer the application is configured with. The
// test can then do to FusionAuth what a network or a hostile server would:
// take it away, make it hang, bring it back, break its key set or its
// Logout API, hold its key set back, redirect its endpoints elsewhere,
// rewrite its token answers or hold them back.
type idpFront struct {
	t    testing.TB
	idp  *fusionauthtest.Server
	addr string // host:port of the front, stable across down and up
	url  string // the issuer

	mu  sync.Mutex
	srv *http.Server // nil while down
	// hanging makes every request wait until the client gives up.
	hanging bool
	// broken paths answer 503.
	broken map[string]bool
	// slow paths wait until the client gives up; busy counts the requests
	// waiting on each, and mostBusy the most there were at once.
	slow, busy, mostBusy map[string]int
	// rewriteToken, if set, edits the token endpoint's JSON answer to the
	// given grant type before the application sees it.
	rewriteToken func(grant string, body map[string]any)
	// redirect maps paths to where FusionAuth answers them with a 307, as a
	// hijacked or misconfigured proxy would.
	redirect map[string]string
	// refreshGate, while not nil, keeps every refresh answer back;
	// keySetGate, every answer of the key set.
	refreshGate, keySetGate *gate
	// answers are the token endpoint's answers, before any rewrite, oldest first.
	answers []tokenAnswer

	// released is closed at the end of the test, so hanging requests return.
	released chan struct{}
}

// tokenAnswer is one answer of the token endpoint.
type tokenAnswer struct {
	grant string
	body  map[string]any
}

// newIDPFront starts the stand-in behind a front on a free local port.
func newIDPFront(t testing.TB) *idpFront {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &idpFront{t: t, addr: listener.Addr().String(), broken: map[string]bool{}, released: make(chan struct{}),
		slow: map[string]int{}, busy: map[string]int{}, mostBusy: map[string]int{}, redirect: map[string]string{}}
	f.url = "http://" + f.addr
	f.idp = fusionauthtest.NewServer(t, fusionauthtest.Options{Issuer: f.url})
	f.serve(listener)
	t.Cleanup(func() {
		close(f.released)
		f.down()
	})
	return f
}

// newApp starts an instance of the application with the front as its issuer.
func (f *idpFront) newApp(t testing.TB) *testApp {
	t.Helper()
	return newAppFor(t, f.idp, f.url, nil)
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

// setBroken makes FusionAuth answer requests for path with 503, or answer
// them again: the key set ("/.well-known/jwks.json"), or the Logout API
// ("/api/logout").
func (f *idpFront) setBroken(path string, broken bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.broken[path] = broken
}

// setSlow makes FusionAuth hold requests for path until the client gives up
// (at its upstream timeout), or answer them again.
func (f *idpFront) setSlow(path string, slow bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.slow[path] = 0
	if slow {
		f.slow[path] = 1
	}
}

// mostAtOnce is the most requests for path FusionAuth held at once.
func (f *idpFront) mostAtOnce(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mostBusy[path]
}

// atOnce is how many requests for path FusionAuth holds now.
func (f *idpFront) atOnce(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.busy[path]
}

// setTokenRewrite installs (or, with nil, removes) an edit of the token
// endpoint's answers.
func (f *idpFront) setTokenRewrite(rewrite func(grant string, body map[string]any)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rewriteToken = rewrite
}

// setRedirect makes FusionAuth answer requests for path with a 307 to the
// same path at elsewhere, or, with elsewhere "", answer them again.
func (f *idpFront) setRedirect(path, elsewhere string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if elsewhere == "" {
		delete(f.redirect, path)
		return
	}
	f.redirect[path] = elsewhere
}

// holdRefreshAnswers keeps the token endpoint's next refresh answers back
// (FusionAuth has already issued them) until release is called. held gets a
// value as each answer starts waiting.
func (f *idpFront) holdRefreshAnswers() (held <-chan struct{}, release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshGate = newGate()
	return f.refreshGate.held, f.releaser(&f.refreshGate)
}

// holdKeySet keeps the key set's answers back until release is called.
// held gets a value as each request for it starts waiting.
func (f *idpFront) holdKeySet() (held <-chan struct{}, release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keySetGate = newGate()
	return f.keySetGate.held, f.releaser(&f.keySetGate)
}

// releaser returns the function that opens the gate *g and removes it, once.
func (f *idpFront) releaser(g **gate) func() {
	opened := *g
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			if *g == opened {
				*g = nil
			}
			f.mu.Unlock()
			close(opened.open)
		})
	}
}

// gate holds requests back until open is closed; held gets a value as each
// request starts waiting.
type gate struct {
	open, held chan struct{}
}

func newGate() *gate {
	return &gate{open: make(chan struct{}), held: make(chan struct{}, 64)}
}

// wait holds a request back until the gate opens or the test ends.
func (g *gate) wait(released <-chan struct{}) {
	g.held <- struct{}{}
	select {
	case <-g.open:
	case <-released:
	}
}

// lastAnswer is the token endpoint's latest answer to the grant type.
func (f *idpFront) lastAnswer(grant string) map[string]any {
	f.t.Helper()
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

// lastRefreshToken is the refresh token of the token endpoint's latest
// answer to the grant type.
func (f *idpFront) lastRefreshToken(grant string) string {
	f.t.Helper()
	token, _ := f.lastAnswer(grant)["refresh_token"].(string)
	require.NotEmpty(f.t, token, "the %s answer's refresh token", grant)
	return token
}

// lastAccessToken is the access token FusionAuth issued most recently.
func (f *idpFront) lastAccessToken() string {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	require.NotEmpty(f.t, f.answers, "no access token issued yet")
	token, _ := f.answers[len(f.answers)-1].body["access_token"].(string)
	return token
}

func (f *idpFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	hanging, broken, rewrite := f.hanging, f.broken[r.URL.Path], f.rewriteToken
	redirect, refreshGate, keySetGate := f.redirect[r.URL.Path], f.refreshGate, f.keySetGate
	slow := f.slow[r.URL.Path] > 0
	if slow {
		f.busy[r.URL.Path]++
		f.mostBusy[r.URL.Path] = max(f.mostBusy[r.URL.Path], f.busy[r.URL.Path])
	}
	f.mu.Unlock()
	switch {
	case slow:
		// Reading the body lets the server notice when the client gives up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-f.released:
		}
		f.mu.Lock()
		f.busy[r.URL.Path]--
		f.mu.Unlock()
		return
	case hanging:
		select {
		case <-r.Context().Done():
		case <-f.released:
		}
		return
	case broken:
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	case redirect != "":
		http.Redirect(w, r, redirect+r.URL.Path, http.StatusTemporaryRedirect)
		return
	case r.URL.Path == "/.well-known/jwks.json" && keySetGate != nil:
		keySetGate.wait(f.released)
		f.idp.ServeHTTP(w, r)
		return
	case r.URL.Path != "/oauth2/token":
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
	grant := form.Get("grant_type")

	rec := httptest.NewRecorder()
	f.idp.ServeHTTP(rec, r)
	answer := map[string]any{}
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err == nil {
		f.mu.Lock()
		f.answers = append(f.answers, tokenAnswer{grant: grant, body: maps.Clone(answer)})
		f.mu.Unlock()
		if rewrite != nil {
			rewrite(grant, answer)
			rewritten, err := json.Marshal(answer)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			rec.Body = bytes.NewBuffer(rewritten)
			rec.Header().Set("Content-Length", strconv.Itoa(len(rewritten)))
		}
	}
	if grant == "refresh_token" && refreshGate != nil {
		refreshGate.wait(f.released)
	}
	copyResponse(w, rec)
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	_, _ = rec.Body.WriteTo(w)
}

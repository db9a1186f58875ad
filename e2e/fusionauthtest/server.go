package fusionauthtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// StandinHeader is the response header by which the stand-in names itself, on
// every response, with the value StandinHeaderValue. A real FusionAuth never
// sends it, so a test suite can tell which one it is talking to.
const (
	StandinHeader      = "X-Changebank-Standin"
	StandinHeaderValue = "fusionauthtest"
)

// Options configure a Server. The zero value reads the project's kickstart.
type Options struct {
	// KickstartPath is the kickstart file to apply. "" means kickstart/kickstart.json
	// in the module root, found by walking up from the working directory to go.mod.
	KickstartPath string
	// Getenv resolves #{ENV.NAME} in the kickstart. nil means os.Getenv.
	Getenv func(string) string
	// Issuer replaces the tenant issuer the kickstart sets. NewServer sets it to the
	// server's own URL so that discovery matches the URL a client fetched it from.
	Issuer string
	// Now is the server's clock; Advance moves it forward. nil means time.Now.
	Now func() time.Time
	// Log receives FusionAuth-like log lines, among them "KickstartRunner - Summary".
	// nil discards them.
	Log io.Writer
}

// Request is one HTTP request the server received.
type Request struct {
	Time   time.Time
	Method string
	Path   string
	Query  url.Values
	// Form holds the body of a form POST (application/x-www-form-urlencoded).
	Form   url.Values
	Header http.Header
	Body   []byte
}

// Server is a FusionAuth stand-in. It is an http.Handler; NewServer and Start
// also serve it over HTTP.
type Server struct {
	opts    Options
	handler http.Handler
	// routes is the handler without request recording; the kickstart runner uses it.
	routes http.Handler
	// done is closed by Close so that a hanging handler lets go.
	done      chan struct{}
	closeOnce sync.Once
	url       string
	stop      func()
	// unknownKey signs the ID tokens of FaultIDTokenUnknownKey: made once, by
	// the first InjectFault of that fault, outside mu (see unknownSigningKey).
	unknownKeyOnce sync.Once
	unknownKey     *signingKey
	unknownKeyErr  error

	mu        sync.Mutex
	offset    time.Duration
	faults    map[Fault]bool
	requests  []Request
	apiKeys   []string
	keys      map[string]*signingKey
	tenant    *tenant
	apps      map[string]*application
	appOrder  []string
	users     map[string]*user
	codes     map[string]*authorizationCode
	refreshes map[string]*refreshToken
	// usedRefreshes are the token strings a rotation replaced, for
	// FaultRefreshTokenReuseDetection to tell a reused token from an unknown one.
	usedRefreshes map[string]*refreshToken
	sessions      map[string]*ssoSession
	pending       map[string]*pendingLogin // logins between the login POST and the consent redirect
}

// New applies the kickstart and returns the configured server, ready to serve.
// It fails, like FusionAuth's log, on the first kickstart request it cannot apply.
func New(opts Options) (*Server, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	path := opts.KickstartPath
	if path == "" {
		found, err := findKickstart()
		if err != nil {
			return nil, err
		}
		path = found
	}
	ks, err := LoadKickstart(path, opts.Getenv)
	if err != nil {
		return nil, err
	}

	s := &Server{
		opts:          opts,
		done:          make(chan struct{}),
		faults:        map[Fault]bool{},
		keys:          map[string]*signingKey{},
		apps:          map[string]*application{},
		users:         map[string]*user{},
		codes:         map[string]*authorizationCode{},
		refreshes:     map[string]*refreshToken{},
		usedRefreshes: map[string]*refreshToken{},
		sessions:      map[string]*ssoSession{},
		pending:       map[string]*pendingLogin{},
	}
	for _, k := range ks.APIKeys {
		s.apiKeys = append(s.apiKeys, k.Key)
	}
	if err := s.createDefaults(ks.Variables[builtinTenantID], ks.Variables[builtinSigningKeyID]); err != nil {
		return nil, err
	}
	s.routes = s.newRoutes()
	s.handler = identify(s.recordRequests(s.routes))

	if err := s.runKickstart(path, ks); err != nil {
		return nil, err
	}
	if opts.Issuer != "" {
		s.tenant.setIssuer(opts.Issuer)
	}
	return s, nil
}

// NewServer starts a Server on 127.0.0.1 on a free port, with the issuer set to its
// URL, and closes it when the test ends. It fails the test if the kickstart fails.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	// The unstarted server already listens, so its URL is known before the
	// kickstart runs and can become the issuer.
	ts := httptest.NewUnstartedServer(nil)
	if opts.Issuer == "" {
		opts.Issuer = "http://" + ts.Listener.Addr().String()
	}
	s, err := New(opts)
	if err != nil {
		_ = ts.Listener.Close()
		t.Fatalf("fusionauthtest: %v", err)
	}
	ts.Config.Handler = s
	ts.Start()
	s.url = ts.URL
	s.stop = ts.Close
	t.Cleanup(s.Close)
	return s
}

// Start listens on addr (for example "127.0.0.1:9011" or ":9011"), applies the
// kickstart, then serves. Connections made while the kickstart runs wait for it,
// so /api/status answers only once the server is ready. Close stops it.
func Start(addr string, opts Options) (*Server, error) {
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	s, err := New(opts)
	if err != nil {
		_ = listener.Close()
		return nil, err
	}
	host, port, _ := net.SplitHostPort(listener.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	s.url = "http://" + net.JoinHostPort(host, port)

	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(s.opts.Log, "%s ERROR io.fusionauth.app.Server - serve: %v\n", s.logTime(), err)
		}
	}()
	s.stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		<-served
	}
	fmt.Fprintf(s.opts.Log, "%s INFO  io.fusionauth.app.Server - Listening on %s\n", s.logTime(), listener.Addr())
	return s, nil
}

// ServeHTTP serves FusionAuth's endpoints and records the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// URL is the base URL the server listens on ("" for a server made with New).
func (s *Server) URL() string { return s.url }

// APIKey is the kickstart's first API key, the one its requests ran with.
func (s *Server) APIKey() string { return s.apiKeys[0] }

// Issuer is the tenant's current issuer.
func (s *Server) Issuer() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenant.issuer()
}

// Close stops the server. Handlers held by FaultTokenEndpointHangs return.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		if s.stop != nil {
			s.stop()
		}
	})
}

// Requests returns a copy of every request received so far, oldest first. The
// kickstart's own admin requests are not included.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetRequests forgets the requests recorded so far.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// Now is the server's clock: Options.Now plus everything passed to Advance.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

// Advance moves the server's clock forward, to expire codes and tokens.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// now reads the clock; the caller holds s.mu.
func (s *Server) now() time.Time {
	return s.opts.Now().Add(s.offset)
}

func (s *Server) logTime() string {
	return s.Now().Format("2006-01-02 03:04:05.000 PM")
}

// maxRecordedBody bounds a request body: FusionAuth's requests are small.
const maxRecordedBody = 1 << 20

// identify marks every response, errors and 404s included, as the stand-in's.
func identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(StandinHeader, StandinHeaderValue)
		next.ServeHTTP(w, r)
	})
}

func (s *Server) recordRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRecordedBody))
		if err != nil {
			http.Error(w, "read body: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := Request{
			Method: r.Method,
			Path:   r.URL.Path,
			Query:  r.URL.Query(),
			Header: r.Header.Clone(),
			Body:   body,
		}
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			rec.Form, _ = url.ParseQuery(string(body))
		}
		s.mu.Lock()
		rec.Time = s.now()
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// newRoutes lists every endpoint the stand-in serves.
func (s *Server) newRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /api/status", s.handleStatus())
	mux.Handle("GET /api/health", s.handleHealth())

	mux.Handle("POST /api/key/generate/{id}", s.requireAPIKey(s.handleKeyGenerate()))
	mux.Handle("GET /api/key/{id}", s.requireAPIKey(s.handleKeyGet()))
	mux.Handle("PATCH /api/tenant/{id}", s.requireAPIKey(s.handleTenantPatch()))
	mux.Handle("GET /api/tenant/{id}", s.requireAPIKey(s.handleTenantGet()))
	mux.Handle("POST /api/application/{id}", s.requireAPIKey(s.handleApplicationCreate()))
	mux.Handle("PATCH /api/application/{id}", s.requireAPIKey(s.handleApplicationPatch()))
	mux.Handle("GET /api/application/{id}", s.requireAPIKey(s.handleApplicationGet()))
	mux.Handle("POST /api/user/registration/{userId}", s.requireAPIKey(s.handleRegistrationCreate()))
	mux.Handle("GET /api/user/registration/{userId}/{applicationId}", s.requireAPIKey(s.handleRegistrationGet()))
	mux.Handle("DELETE /api/jwt/refresh", s.requireAPIKey(s.handleRefreshTokenRevoke()))
	mux.Handle("POST /api/logout", s.handleLogoutAPI())

	mux.Handle("GET /.well-known/openid-configuration", s.handleDiscovery())
	mux.Handle("GET /.well-known/jwks.json", s.handleJWKS())
	mux.Handle("GET /oauth2/authorize", s.handleAuthorizeGet())
	mux.Handle("POST /oauth2/authorize", s.handleAuthorizePost())
	mux.Handle("GET /oauth2/consent", s.handleConsent())
	mux.Handle("GET /oauth2/authorized-not-registered", s.handleNotRegistered())
	mux.Handle("POST /oauth2/token", s.handleToken())
	mux.Handle(RevocationEndpointPath, s.handleRevoke()) // any method: an unknown path without its fault
	mux.Handle("GET /oauth2/userinfo", s.handleUserinfo())
	mux.Handle("POST /oauth2/userinfo", s.handleUserinfo())
	mux.Handle("GET /oauth2/logout", s.handleLogout())
	mux.Handle("POST /oauth2/logout", s.handleLogout())
	mux.Handle("GET "+stylesheetPath, handleStylesheet())
	return mux
}

// handleStatus answers {"status":"Ok"} to anyone (the docs show "ok"; 1.69
// answers "Ok": LIKELY status-ok-capital, FUSIONAUTH.md); with an API key
// FusionAuth answers a large report instead, of which the stand-in gives a
// small sketch (CERTAIN status-report).
func (s *Server) handleStatus() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.validAPIKey(r.Header.Get("Authorization")) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "Ok"})
			return
		}
		s.mu.Lock()
		report := map[string]any{
			"status":       "Ok",
			"standin":      StandinHeaderValue,
			"applications": len(s.apps),
			"users":        len(s.users),
			"keys":         len(s.keys),
			"database":     map[string]any{"status": "ok", "type": "memory"},
			"search":       map[string]any{"status": "ok", "type": "database"},
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, report)
	})
}

func (s *Server) handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// upstreamTimeout bounds every call to FusionAuth: go-oidc and x/oauth2 have
// none unless given an http.Client with one.
const upstreamTimeout = 10 * time.Second

// oidcClient is Changebank as FusionAuth's OpenID Connect client: its
// credentials, what discovery learns, the checks of FusionAuth's tokens
// (verify.go), and the HTTP client for every call to FusionAuth.
type oidcClient struct {
	issuer, clientID, clientSecret string
	redirectURL, logoutURL         string // APP_URL/callback and APP_URL/logout
	logger                         *slog.Logger
	httpClient                     *http.Client
	now                            func() time.Time // the clock for token checks
	verified                       *verifiedTokenCache

	// discovered is set once discovery has worked; it is read on every
	// protected request. mu serializes discovery attempts, and a failure is
	// kept for retryInterval, so that a FusionAuth still starting is not
	// asked by every request.
	discovered    atomic.Pointer[provider]
	mu            sync.Mutex
	retryInterval time.Duration
	lastErr       error
	lastAttempt   time.Time
}

// provider is what discovery learns about FusionAuth.
type provider struct {
	oauth2 oauth2.Config
	// verifier checks a JWT's signature, issuer, audience and expiry. It
	// serves ID and access tokens alike: FusionAuth's access tokens are JWTs
	// with the same claims, signed by the same key.
	verifier   *oidc.IDTokenVerifier
	endSession *url.URL // where logout sends the browser
	// namesItselfInCallbacks: every authorization response carries iss (RFC 9207).
	namesItselfInCallbacks bool
}

func newOIDCClient(cfg config, logger *slog.Logger, now func() time.Time) *oidcClient {
	return &oidcClient{
		issuer:       cfg.issuer,
		clientID:     cfg.clientID,
		clientSecret: cfg.clientSecret,
		redirectURL:  cfg.appURL.JoinPath("callback").String(),
		logoutURL:    cfg.appURL.JoinPath("logout").String(),
		logger:       logger,
		httpClient: &http.Client{
			Timeout: upstreamTimeout,
			// FusionAuth never redirects an API call; following a 307 would
			// send the code, verifier or client secret wherever it points.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		now:           now,
		verified:      newVerifiedTokenCache(maxVerifiedTokens),
		retryInterval: 2 * time.Second,
	}
}

// errProviderUnavailable means FusionAuth could not be reached or did not
// answer as expected: pages that need it answer 503 until it does.
var errProviderUnavailable = errors.New("FusionAuth is not available")

// provider returns what discovery learned, discovering on first use: the app
// starts, and serves its public pages, while FusionAuth is still starting,
// and login works once it answers, without a restart.
func (c *oidcClient) provider(ctx context.Context) (*provider, error) {
	if p := c.discovered.Load(); p != nil {
		return p, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.discovered.Load(); p != nil {
		return p, nil // Another request finished discovery while we waited.
	}
	if c.lastErr != nil && time.Since(c.lastAttempt) < c.retryInterval {
		return nil, c.lastErr
	}
	p, err := c.discover(ctx)
	if err != nil {
		c.lastErr, c.lastAttempt = fmt.Errorf("%w: %w", errProviderUnavailable, err), time.Now()
		c.logger.Warn("OpenID Connect discovery failed; will retry", "issuer", c.issuer, "err", err)
		return nil, c.lastErr
	}
	c.discovered.Store(p)
	c.logger.Info("discovered FusionAuth", "issuer", c.issuer)
	return p, nil
}

func (c *oidcClient) discover(ctx context.Context) (*provider, error) {
	// go-oidc keeps this client to fetch FusionAuth's keys with later.
	// Requests waiting on c.mu share this discovery, so it does not stop
	// when the browser that started it goes away.
	ctx = oidc.ClientContext(context.WithoutCancel(ctx), c.httpClient)
	// NewProvider fails unless the discovery document's issuer is exactly
	// c.issuer, the first of many issuer checks.
	discovered, err := oidc.NewProvider(ctx, c.issuer)
	if err != nil {
		return nil, err
	}
	var metadata struct {
		EndSessionEndpoint string `json:"end_session_endpoint"`
		IssParameter       bool   `json:"authorization_response_iss_parameter_supported"`
	}
	if err := discovered.Claims(&metadata); err != nil {
		return nil, fmt.Errorf("reading discovery metadata: %w", err)
	}
	endSession, err := url.Parse(metadata.EndSessionEndpoint)
	if err != nil || metadata.EndSessionEndpoint == "" {
		return nil, fmt.Errorf("FusionAuth advertises no usable end_session_endpoint: %q", metadata.EndSessionEndpoint)
	}
	endpoint := discovered.Endpoint()
	// Saying how FusionAuth takes the secret stops x/oauth2 from guessing,
	// which after a failure sends the single-use code again the other way.
	endpoint.AuthStyle = oauth2.AuthStyleInHeader
	return &provider{
		oauth2: oauth2.Config{
			ClientID:     c.clientID,
			ClientSecret: c.clientSecret,
			Endpoint:     endpoint,
			RedirectURL:  c.redirectURL,
			// offline_access gets a refresh token (AccessTypeOffline is Google's).
			Scopes: []string{oidc.ScopeOpenID, "email", "profile", oidc.ScopeOfflineAccess},
		},
		// go-oidc's RemoteKeySet caches FusionAuth's keys and fetches them
		// again, once for all concurrent requests, for a key it lacks: a key
		// rotation is honoured at once.
		verifier: discovered.Verifier(&oidc.Config{
			ClientID: c.clientID,
			// Refuses "none", and HS256 keyed with the client secret.
			SupportedSigningAlgs: []string{oidc.RS256},
			Now:                  c.now,
		}),
		endSession:             endSession,
		namesItselfInCallbacks: metadata.IssParameter,
	}, nil
}

// upstream makes x/oauth2 use the client with a timeout for this request.
func (c *oidcClient) upstream(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.httpClient)
}

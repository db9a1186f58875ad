package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const (
	// upstreamTimeout bounds every call to FusionAuth. Neither go-oidc nor
	// x/oauth2 sets a timeout unless it is given an http.Client with one.
	upstreamTimeout = 10 * time.Second
	// discoveryRetryInterval is how long a failed discovery is remembered
	// before the next request may try again, so that a FusionAuth that is
	// still starting is not hammered.
	discoveryRetryInterval = 2 * time.Second
)

// authenticator is the OpenID Connect client: it knows FusionAuth, the
// client's credentials and the cookies that hold the session.
type authenticator struct {
	issuer       string
	clientID     string
	clientSecret string
	redirectURL  string // APP_URL/callback
	logoutURL    string // APP_URL/logout, the post_logout_redirect_uri
	cookies      *cookieSealer
	logger       *slog.Logger
	// httpClient carries upstreamTimeout to go-oidc and x/oauth2.
	httpClient *http.Client
	// sessionIdleTimeout and sessionMaxLifetime are the session's own limits.
	sessionIdleTimeout time.Duration
	sessionMaxLifetime time.Duration
	// refreshes shares one refresh's outcome among the requests that present
	// the same refresh token at about the same time.
	refreshes *refreshCache
	// now is the clock used for token checks; tests replace it.
	now func() time.Time
	// retryInterval is discoveryRetryInterval; tests shorten it.
	retryInterval time.Duration
	// verified remembers the access tokens verifyAccessToken accepted.
	verified *verifiedTokenCache

	// discovered is set once discovery has succeeded. It is read on every
	// protected request, so it is an atomic pointer rather than a mutex.
	discovered atomic.Pointer[identityProvider]

	// discoveryMu serializes discovery attempts; the fields below it
	// remember the last failure.
	discoveryMu       sync.Mutex
	lastDiscoveryErr  error
	lastDiscoveryTime time.Time
}

// identityProvider is what discovery learns about FusionAuth.
type identityProvider struct {
	oauth2 oauth2.Config
	// verifier checks a JWT's RS256 signature against FusionAuth's published
	// keys, its issuer, that the client id is in its audience, and its expiry.
	// FusionAuth's access tokens are JWTs with the same claims, signed by the
	// same key, so one verifier serves ID tokens and access tokens.
	verifier *oidc.IDTokenVerifier
	// endSessionURL is where logout sends the browser (RP-initiated logout).
	endSessionURL string
	// namesItselfInCallbacks is true when the discovery document announces
	// that every authorization response carries FusionAuth's iss (RFC 9207).
	namesItselfInCallbacks bool
}

func newAuthenticator(cfg config, logger *slog.Logger) (*authenticator, error) {
	cookies, err := newCookieSealer(cfg.secretKey, cfg.appURL.Scheme == "https")
	if err != nil {
		return nil, err
	}
	a := &authenticator{
		issuer:       cfg.issuer,
		clientID:     cfg.clientID,
		clientSecret: cfg.clientSecret,
		redirectURL:  cfg.appURL.JoinPath("callback").String(),
		logoutURL:    cfg.appURL.JoinPath("logout").String(),
		cookies:      cookies,
		logger:       logger,
		httpClient: &http.Client{
			Timeout: upstreamTimeout,
			// FusionAuth never redirects an API call. Following a 307 would
			// send the code, the verifier or the client secret to wherever
			// it points, so a redirect is an answer like any other error.
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		now:                time.Now,
		retryInterval:      discoveryRetryInterval,
		sessionIdleTimeout: cfg.sessionIdleTimeout,
		sessionMaxLifetime: cfg.sessionMaxLifetime,
		verified:           newVerifiedTokenCache(maxVerifiedTokens),
	}
	// Clock reads go through a.now, so tests that move it move this too.
	a.refreshes = newRefreshCache(func() time.Time { return a.now() })
	return a, nil
}

// errProviderUnavailable means FusionAuth could not be reached or did not
// answer discovery properly. Pages that need it answer 503 until it does.
var errProviderUnavailable = errors.New("FusionAuth is not available")

// provider returns FusionAuth's discovered configuration, running discovery
// on first use. Discovery is lazy so the app starts, and serves its public
// pages, even while FusionAuth is still starting; once FusionAuth answers,
// login works without a restart.
func (a *authenticator) provider(ctx context.Context) (*identityProvider, error) {
	if p := a.discovered.Load(); p != nil {
		return p, nil
	}

	a.discoveryMu.Lock()
	defer a.discoveryMu.Unlock()
	if p := a.discovered.Load(); p != nil {
		return p, nil // Another request finished discovery while we waited.
	}
	if a.lastDiscoveryErr != nil && time.Since(a.lastDiscoveryTime) < a.retryInterval {
		return nil, a.lastDiscoveryErr
	}

	p, err := a.discover(ctx)
	if err != nil {
		a.lastDiscoveryErr = fmt.Errorf("%w: %w", errProviderUnavailable, err)
		a.lastDiscoveryTime = time.Now()
		a.logger.Warn("OpenID Connect discovery failed; will retry", "issuer", a.issuer, "err", err)
		return nil, a.lastDiscoveryErr
	}
	a.discovered.Store(p)
	a.logger.Info("discovered FusionAuth", "issuer", a.issuer)
	return p, nil
}

func (a *authenticator) discover(ctx context.Context) (*identityProvider, error) {
	// go-oidc keeps the client given here and later fetches FusionAuth's
	// signing keys with it, so those calls have a timeout too. Every request
	// waiting on discoveryMu shares this discovery's outcome, so it must not
	// stop when the browser that happened to start it goes away: hence
	// WithoutCancel, leaving the client's timeout as the bound.
	ctx = oidc.ClientContext(context.WithoutCancel(ctx), a.httpClient)
	// NewProvider fails unless the discovery document's issuer is exactly
	// a.issuer, the first of many issuer checks.
	provider, err := oidc.NewProvider(ctx, a.issuer)
	if err != nil {
		return nil, err
	}
	var metadata struct {
		EndSessionEndpoint string `json:"end_session_endpoint"`
		JWKSURI            string `json:"jwks_uri"`
		IssParameter       bool   `json:"authorization_response_iss_parameter_supported"`
	}
	if err := provider.Claims(&metadata); err != nil {
		return nil, fmt.Errorf("reading discovery metadata: %w", err)
	}

	endpoint := provider.Endpoint()
	// FusionAuth takes the client secret in a Basic header. Saying so stops
	// x/oauth2 from guessing, which on a failure would retry the token
	// request the other way and send the single-use code twice.
	endpoint.AuthStyle = oauth2.AuthStyleInHeader

	return &identityProvider{
		oauth2: oauth2.Config{
			ClientID:     a.clientID,
			ClientSecret: a.clientSecret,
			Endpoint:     endpoint,
			RedirectURL:  a.redirectURL,
			// An ID token (openid), the user's email and name, and a refresh
			// token: FusionAuth issues one for the offline_access scope
			// (oauth2.AccessTypeOffline is a Google-only parameter).
			Scopes: []string{oidc.ScopeOpenID, "email", "profile", oidc.ScopeOfflineAccess},
		},
		verifier: oidc.NewVerifier(a.issuer, &limitedKeySet{
			jwksURL:    metadata.JWKSURI,
			httpClient: a.httpClient,
			now:        func() time.Time { return a.now() },
		}, &oidc.Config{
			ClientID: a.clientID,
			// Pin the algorithm: whatever a token's header says, only an
			// RS256 signature by one of FusionAuth's keys is accepted. This
			// also refuses "none" and HS256 tokens signed with the client secret.
			SupportedSigningAlgs: []string{oidc.RS256},
			Now:                  a.now,
		}),
		endSessionURL:          metadata.EndSessionEndpoint,
		namesItselfInCallbacks: metadata.IssParameter,
	}, nil
}

// upstreamContext makes x/oauth2 use the client with a timeout for this request.
func (a *authenticator) upstreamContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, a.httpClient)
}

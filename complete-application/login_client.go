package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// upstreamTimeout bounds each call to FusionAuth: go-oidc and x/oauth2 have
// none unless given an http.Client with one.
const upstreamTimeout = 10 * time.Second

// oidcClient is the application as FusionAuth's OpenID Connect client: its
// credentials, what discovery learns, the HTTP client for every call to
// FusionAuth, and the one call x/oauth2 and go-oidc do not make: revocation.
type oidcClient struct {
	issuer, clientID, clientSecret string
	redirectURL, logoutURL         string // AppURL/callback and AppURL/logout
	logger                         *slog.Logger
	httpClient                     *http.Client
	now                            func() time.Time
	verified                       *verifiedTokenCache // login_verify.go
	revocations                    chan struct{}       // one token per revocation in flight

	// discovered is set once discovery has worked. mu serializes attempts,
	// and a failure is kept for retryInterval, so that while FusionAuth is
	// down, requests fail at once instead of queueing behind each other's
	// attempts, each of which may wait upstreamTimeout.
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
	revocation string   // the RFC 7009 endpoint, if advertised (FusionAuth: none)
	// namesItselfInCallbacks: every authorization response carries iss (RFC 9207).
	namesItselfInCallbacks bool
}

func newOIDCClient(cfg loginConfig) *oidcClient {
	return &oidcClient{
		issuer:       cfg.Issuer,
		clientID:     cfg.ClientID,
		clientSecret: cfg.ClientSecret,
		redirectURL:  cfg.AppURL.JoinPath("callback").String(),
		logoutURL:    cfg.AppURL.JoinPath("logout").String(),
		logger:       cfg.Logger,
		httpClient: &http.Client{
			Timeout: upstreamTimeout,
			// FusionAuth never redirects an API call; following a 307 would
			// send the code, verifier or client secret wherever it points.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		now:           cfg.Now,
		verified:      newVerifiedTokenCache(maxVerifiedTokens),
		revocations:   make(chan struct{}, maxRevocations),
		retryInterval: 2 * time.Second,
	}
}

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
	if c.lastErr != nil && c.now().Sub(c.lastAttempt) < c.retryInterval {
		return nil, c.lastErr
	}
	p, err := c.discover(ctx)
	if err != nil {
		c.lastErr, c.lastAttempt = fmt.Errorf("%w: %w", errProviderUnavailable, err), c.now()
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
		RevocationEndpoint string `json:"revocation_endpoint"`
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
		revocation:             metadata.RevocationEndpoint,
		namesItselfInCallbacks: metadata.IssParameter,
	}, nil
}

// upstream makes x/oauth2 use the client with a timeout for this request.
func (c *oidcClient) upstream(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.httpClient)
}

// maxRevocations bounds the revocation calls in flight at once. A revocation
// outlives the request that asked for it, so that a browser leaving does not
// leave its refresh token alive; without a bound, a client sending logouts
// and hanging up while FusionAuth is slow would pile up calls to FusionAuth.
const maxRevocations = 16

// revoke revokes a refresh token, so that a copy of the session's cookies
// dies with its access token. Standard first: the provider's RFC 7009
// revocation endpoint if it advertises one (p may be nil before discovery).
// FusionAuth advertises none; its Logout API revokes instead, with no API
// key (holding the token is the authorization), the token in a JSON body so
// that it never appears in a URL, which proxies and access logs keep.
func (c *oidcClient) revoke(ctx context.Context, p *provider, refreshToken string) error {
	if refreshToken == "" {
		return errors.New("the session has no refresh token")
	}
	// A free slot is taken even if the browser has left; only a browser
	// that leaves while waiting for one gives up.
	select {
	case c.revocations <- struct{}{}:
	default:
		select {
		case c.revocations <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("the browser left while other revocations were under way: %w", ctx.Err())
		}
	}
	defer func() { <-c.revocations }()
	ctx = context.WithoutCancel(ctx)

	standard := p != nil && p.revocation != ""
	endpoint, contentType := strings.TrimSuffix(c.issuer, "/")+"/api/logout", "application/json"
	body, _ := json.Marshal(map[string]any{"global": false, "refreshToken": refreshToken})
	if standard {
		endpoint, contentType = p.revocation, "application/x-www-form-urlencoded"
		body = []byte(url.Values{"token": {refreshToken}, "token_type_hint": {"refresh_token"}}.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	if standard {
		// Client authentication as at the token endpoint (RFC 6749 2.3.1).
		req.SetBasicAuth(url.QueryEscape(c.clientID), url.QueryEscape(c.clientSecret))
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", req.URL.Path, resp.Status)
	}
	return nil
}

// revocationOutcome says how a revocation went, for the log. FusionAuth's Logout API
// answers 200 whether or not it found the token, so "ok" says the call went
// through, not that a token was revoked.
func revocationOutcome(err error) string {
	if err != nil {
		return "failed: " + err.Error()
	}
	return "ok"
}

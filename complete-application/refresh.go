package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

const (
	// refreshShareWindow is how long one refresh's new tokens answer every
	// request that presents the same refresh token: the other tabs whose
	// access tokens expired at the same moment, and requests the browser
	// sent before it had the new cookies. It also bounds a cookie set replayed
	// without its new cookies to one token request per window, and the idle
	// timeout ends even that.
	refreshShareWindow = 30 * time.Second
	// refusalMemory is how long FusionAuth's refusal of a refresh token is
	// remembered, so a refused cookie set sent again costs FusionAuth nothing.
	refusalMemory = 5 * time.Minute
	// maxRefreshCacheEntries bounds the cache's memory; beyond it, refreshes
	// still work, unshared.
	maxRefreshCacheEntries = 10000
	// retryMarkLifetime is how long a request that lost a refresh race has
	// to come back for its one retry.
	retryMarkLifetime = time.Minute
)

var (
	// errRefreshRefused means FusionAuth refused the refresh token
	// (invalid_grant): expired, revoked, or already used up.
	errRefreshRefused = errors.New("FusionAuth refused the refresh token")
	// errRefreshedTokensRejected means FusionAuth's new tokens failed a check.
	errRefreshedTokensRejected = errors.New("the refreshed tokens failed a check")
	// errUpstream means FusionAuth answered a refresh with something other
	// than tokens or a clear refusal.
	errUpstream = errors.New("FusionAuth did not answer as expected")
	// errRetryRequest means the request should be sent again: it lost a
	// refresh race, see retryAfterLostRace.
	errRetryRequest = errors.New("retry the request with the newest cookies")
)

// refreshSession gets new tokens with the refresh token, verifies them as
// carefully as at login, and replaces the session cookies. Requests that
// present the same refresh token at about the same time share one refresh.
func (a *authenticator) refreshSession(w http.ResponseWriter, r *http.Request, p *identityProvider, s sessionState) (user, error) {
	refreshToken, err := a.cookies.get(r, refreshTokenCookie)
	if err != nil {
		a.clearSession(w)
		return user{}, errLoggedOut
	}
	previousIDToken, err := a.cookies.get(r, idTokenCookie)
	if err != nil {
		a.clearSession(w)
		return user{}, errLoggedOut
	}

	tokens, err := a.refreshes.do(r.Context(), string(refreshToken), func(ctx context.Context) (verifiedTokens, error) {
		return a.redeemRefreshToken(ctx, p, string(refreshToken), s.User, string(previousIDToken))
	})
	switch {
	case errors.Is(err, errRefreshRefused):
		return a.retryAfterLostRace(w, r, string(refreshToken))
	case errors.Is(err, errRefreshedTokensRejected):
		a.logger.Warn("refusing refreshed tokens; ending the session", "err", err)
		a.clearSession(w)
		return user{}, errLoggedOut
	case err != nil:
		return user{}, err
	}
	s.SeenAt = a.now()
	if err := a.startSession(w, tokens, s); err != nil {
		a.logger.Error("storing the refreshed session", "err", err)
		a.clearSession(w)
		return user{}, errLoggedOut
	}
	return tokens.user, nil
}

// redeemRefreshToken is one refresh at FusionAuth's token endpoint, with the
// checks the answer must pass.
func (a *authenticator) redeemRefreshToken(ctx context.Context, p *identityProvider, refreshToken string, previous user, previousIDToken string) (verifiedTokens, error) {
	ctx = a.upstreamContext(ctx)
	// A token with only a refresh token is invalid, so the token source
	// goes straight to the token endpoint with grant_type=refresh_token.
	token, err := p.oauth2.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		var retrieveErr *oauth2.RetrieveError
		if errors.As(err, &retrieveErr) && retrieveErr.ErrorCode == "invalid_grant" {
			return verifiedTokens{}, errRefreshRefused
		}
		return verifiedTokens{}, errors.Join(errUpstream, err)
	}

	var tokens verifiedTokens
	// Only an absent id_token means an answer without one: an id_token that
	// is there but not a string is malformed, and verifyTokenResponse
	// refuses it. (Extra returns "" for a missing field of a form-encoded
	// answer, nil for a missing JSON field.)
	if idToken := token.Extra("id_token"); idToken == nil || idToken == "" {
		tokens, err = a.verifyAccessOnlyResponse(ctx, p, token, previous, previousIDToken)
	} else {
		tokens, err = a.verifyTokenResponse(ctx, p, token, func(nonce string) error {
			// OpenID Connect Core 12.2: a refreshed ID token's nonce, if
			// any, is the one of the original authentication.
			if nonce != "" && !equalSecret(nonce, previous.Nonce) {
				return errors.New("refreshed ID token has a different nonce")
			}
			return nil
		})
	}
	if err == nil && (tokens.user.Subject != previous.Subject || !slices.Equal(tokens.user.Audience, previous.Audience)) {
		// The issuer is the same by construction: the verifier accepts no other.
		err = errors.New("refreshed ID token is for another subject or audience")
	}
	if err != nil {
		return verifiedTokens{}, errors.Join(errRefreshedTokensRejected, err)
	}

	// FusionAuth sends a new refresh token only under its OneTimeUse
	// policy; otherwise the one we have stays valid.
	if tokens.refreshToken == "" {
		tokens.refreshToken = refreshToken
	}
	tokens.user.Nonce = previous.Nonce
	a.logger.Info("refreshed the session", "sub", tokens.user.Subject)
	return tokens, nil
}

// retryAfterLostRace answers a refresh FusionAuth refused. Under FusionAuth's
// OneTimeUse policy, a refused token may just be one that another request of
// the same browser has already exchanged, on another replica: that request's
// answer carries the new cookies, and deleting the cookies now would delete
// the winner's. So the first refusal sends the browser back to the same URL
// (with a short-lived mark bound to this refresh token), and the retry
// carries whatever cookies the browser holds by then. A second refusal of the
// same token ends the session, so a revoked token costs one retry, never a loop.
func (a *authenticator) retryAfterLostRace(w http.ResponseWriter, r *http.Request, refreshToken string) (user, error) {
	mark := refreshTokenMark(refreshToken)
	var seen string
	if err := a.cookies.getJSON(r, refreshRetryCookie, &seen); err == nil && equalSecret(seen, mark) {
		a.logger.Info("refresh token refused again; ending the session")
		a.clearSession(w)
		return user{}, errLoggedOut
	}
	if err := a.cookies.setJSON(w, refreshRetryCookie, mark, retryMarkLifetime); err != nil {
		a.clearSession(w)
		return user{}, errLoggedOut
	}
	a.logger.Info("refresh token refused; retrying once with the newest cookies")
	return user{}, errRetryRequest
}

// refreshTokenMark names a refresh token without revealing it.
func refreshTokenMark(refreshToken string) string {
	sum := sha256.Sum256([]byte(refreshToken))
	return hex.EncodeToString(sum[:16])
}

// refreshCache shares refreshes among the requests of one replica: the first
// request that presents a refresh token redeems it, and every request that
// presents the same token meanwhile, or shortly after, gets the same outcome.
// Without it, two tabs whose access tokens expire together would both
// redeem the token, and under FusionAuth's OneTimeUse policy one of them
// would be refused. Entries are keyed by a hash of the refresh token.
type refreshCache struct {
	now func() time.Time

	mu      sync.Mutex
	entries map[[sha256.Size]byte]*refreshEntry
}

// refreshEntry is one refresh, in flight until done is closed.
type refreshEntry struct {
	done    chan struct{}
	tokens  verifiedTokens
	err     error
	expires time.Time
}

func newRefreshCache(now func() time.Time) *refreshCache {
	return &refreshCache{now: now, entries: map[[sha256.Size]byte]*refreshEntry{}}
}

// do returns the outcome of redeeming refreshToken: a shared one if there is
// one, else redeem's, which is then shared. Failures that may be temporary
// (FusionAuth unreachable) are not shared, so the next request tries again.
func (c *refreshCache) do(ctx context.Context, refreshToken string, redeem func(context.Context) (verifiedTokens, error)) (verifiedTokens, error) {
	key := sha256.Sum256([]byte(refreshToken))
	c.mu.Lock()
	now := c.now()
	if e, ok := c.entries[key]; ok {
		select {
		case <-e.done:
			if now.Before(e.expires) {
				c.mu.Unlock()
				return e.tokens, e.err
			}
		default:
			c.mu.Unlock()
			select {
			case <-e.done:
				return e.tokens, e.err
			case <-ctx.Done():
				return verifiedTokens{}, ctx.Err()
			}
		}
	}
	if len(c.entries) >= maxRefreshCacheEntries {
		c.sweep(now)
	}
	if len(c.entries) >= maxRefreshCacheEntries {
		c.mu.Unlock()
		return redeem(ctx)
	}
	e := &refreshEntry{done: make(chan struct{})}
	c.entries[key] = e
	c.mu.Unlock()

	// Other requests may wait for this refresh, so it does not stop when
	// this request's browser goes away; the upstream timeout bounds it.
	tokens, err := redeem(context.WithoutCancel(ctx))

	c.mu.Lock()
	defer c.mu.Unlock()
	e.tokens, e.err = tokens, err
	switch {
	case err == nil:
		e.expires = c.now().Add(refreshShareWindow)
	case errors.Is(err, errRefreshRefused), errors.Is(err, errRefreshedTokensRejected):
		e.expires = c.now().Add(refusalMemory)
	default:
		if c.entries[key] == e {
			delete(c.entries, key)
		}
	}
	close(e.done)
	return tokens, err
}

// forget drops what the cache knows of refreshToken, so that a refresh token
// revoked at logout is never answered from the cache again.
func (c *refreshCache) forget(refreshToken string) {
	key := sha256.Sum256([]byte(refreshToken))
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}

// sweep deletes finished, expired entries. The caller holds c.mu.
func (c *refreshCache) sweep(now time.Time) {
	for key, e := range c.entries {
		select {
		case <-e.done:
			if !now.Before(e.expires) {
				delete(c.entries, key)
			}
		default:
		}
	}
}

package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// This file holds every check of FusionAuth's tokens that go-oidc's Verify
// leaves to its caller, in one place to review.

const (
	clockSkew     = time.Minute     // how far FusionAuth's clock may be ahead of ours
	maxIDTokenAge = 5 * time.Minute // a fresh ID token's, older is a replay
)

// verifiedTokens is a token endpoint answer that passed every check.
type verifiedTokens struct {
	accessToken, refreshToken, idToken string
	subject, email                     string
}

// verifyLogin checks the token endpoint's answer to a login: the ID token
// must carry the nonce this login sent.
func (c *oidcClient) verifyLogin(ctx context.Context, p *provider, token *oauth2.Token, nonce string) (verifiedTokens, error) {
	idToken, tokens, err := c.verifyTokenResponse(ctx, p, token)
	if err != nil {
		return verifiedTokens{}, err
	}
	if !equalSecret(idToken.Nonce, nonce) {
		return verifiedTokens{}, errors.New("ID token nonce is not the login's")
	}
	return tokens, nil
}

// verifyRefresh checks the token endpoint's answer to a refresh of session
// s: the new ID token must be for the session's user and, if it carries a
// nonce, carry the login's (OpenID Connect Core 12.2).
func (c *oidcClient) verifyRefresh(ctx context.Context, p *provider, token *oauth2.Token, s session) (verifiedTokens, error) {
	idToken, tokens, err := c.verifyTokenResponse(ctx, p, token)
	switch {
	case err != nil:
		return verifiedTokens{}, err
	case idToken.Subject != s.Subject:
		return verifiedTokens{}, errors.New("refreshed ID token is for another user than the session")
	case idToken.Nonce != "" && !equalSecret(idToken.Nonce, s.Nonce):
		return verifiedTokens{}, errors.New("refreshed ID token nonce is not the login's")
	}
	return tokens, nil
}

// verifyTokenResponse runs the checks a login and a refresh share: a bearer
// token, an ID token that passes every check, and an access token that is
// the ID token's (at_hash) and passes the check every page makes.
func (c *oidcClient) verifyTokenResponse(ctx context.Context, p *provider, token *oauth2.Token) (*oidc.IDToken, verifiedTokens, error) {
	// x/oauth2 accepts any token_type; a DPoP token would not work as bearer.
	if !strings.EqualFold(token.TokenType, "Bearer") {
		return nil, verifiedTokens{}, fmt.Errorf("token_type is %q, want Bearer", token.TokenType)
	}
	rawIDToken, ok := token.Extra("id_token").(string)
	if !ok || rawIDToken == "" {
		return nil, verifiedTokens{}, errors.New("token response has no id_token string")
	}
	idToken, claims, err := c.verifyIDToken(ctx, p, rawIDToken)
	if err != nil {
		return nil, verifiedTokens{}, err
	}
	// at_hash binds the access token to the ID token (OpenID Connect Core 3.1.3.8).
	if idToken.AccessTokenHash != "" {
		if err := idToken.VerifyAccessToken(token.AccessToken); err != nil {
			return nil, verifiedTokens{}, fmt.Errorf("access token does not match the ID token's at_hash: %w", err)
		}
	}
	// So that a session never starts with a token the next request refuses,
	// even from a provider whose ID tokens carry no at_hash.
	if err := c.verifyAccessToken(ctx, p, token.AccessToken, idToken.Subject); err != nil {
		return nil, verifiedTokens{}, err
	}
	return idToken, verifiedTokens{token.AccessToken, token.RefreshToken, rawIDToken, idToken.Subject, claims.Email}, nil
}

// verifyIDToken runs go-oidc's checks (signature with a pinned algorithm,
// issuer, audience contains the client id, expiry), then the ones go-oidc
// leaves to its caller.
func (c *oidcClient) verifyIDToken(ctx context.Context, p *provider, rawIDToken string) (*oidc.IDToken, idClaims, error) {
	var claims idClaims
	idToken, err := verifyJWT(ctx, p, rawIDToken)
	if err == nil {
		err = idToken.Claims(&claims)
	}
	if err != nil {
		return nil, claims, fmt.Errorf("verifying ID token: %w", err)
	}
	now := c.now()
	switch {
	case idToken.Subject == "":
		err = errors.New("ID token has no sub")
	case c.untrustedAudience(idToken.Audience):
		err = fmt.Errorf("ID token has an untrusted audience: %q", idToken.Audience)
	case claims.AuthorizedParty != "" && claims.AuthorizedParty != c.clientID:
		err = fmt.Errorf("ID token azp is %q, not this client", claims.AuthorizedParty)
	case idToken.IssuedAt.IsZero():
		err = errors.New("ID token has no iat")
	case idToken.IssuedAt.After(now.Add(clockSkew)):
		err = fmt.Errorf("ID token iat %s is in the future", idToken.IssuedAt.UTC())
	case idToken.IssuedAt.Before(now.Add(-maxIDTokenAge)):
		err = fmt.Errorf("ID token iat %s is too old", idToken.IssuedAt.UTC())
	}
	return idToken, claims, err
}

// idClaims are the ID token's claims the app reads besides go-oidc's.
type idClaims struct {
	AuthorizedParty string `json:"azp"`
	Email           string `json:"email"`
}

// verifyAccessToken checks an access token locally (FusionAuth is asked only
// for a key not yet fetched): signature, issuer, audience this client and no
// other, expiry, and the session's user. An expired token yields an error
// wrapping *oidc.TokenExpiredError; go-oidc checks expiry last, so such a
// token is otherwise valid and worth refreshing.
func (c *oidcClient) verifyAccessToken(ctx context.Context, p *provider, accessToken, subject string) error {
	// The same bytes that passed every check before need only the user check.
	verified, ok := c.verified.lookup(accessToken, c.now())
	if !ok {
		token, err := verifyJWT(ctx, p, accessToken)
		if err != nil {
			return fmt.Errorf("verifying access token: %w", err)
		}
		if c.untrustedAudience(token.Audience) {
			return fmt.Errorf("access token has an untrusted audience: %q", token.Audience)
		}
		verified = cachedToken{subject: token.Subject, expiry: token.Expiry}
		c.verified.add(accessToken, verified)
	}
	if verified.subject != subject {
		return errors.New("access token is for another user than the session")
	}
	return nil
}

// verifyJWT is go-oidc's Verify, which reports a key set it cannot fetch
// (FusionAuth down) like a bad signature, telling them apart only in its
// message (it formats the key set's error with %v). Only a bad token may log
// a user out, so the first becomes errKeysUnavailable.
func verifyJWT(ctx context.Context, p *provider, raw string) (*oidc.IDToken, error) {
	token, err := p.verifier.Verify(ctx, raw)
	if err != nil && strings.Contains(err.Error(), "fetching keys") {
		return nil, fmt.Errorf("%w: %v", errKeysUnavailable, err)
	}
	return token, err
}

// untrustedAudience reports whether a token is meant for anyone but this
// client: go-oidc accepts an audience list that merely contains our client
// id, but a token also meant for others is not ours to accept.
func (c *oidcClient) untrustedAudience(audience []string) bool {
	return slices.ContainsFunc(audience, func(aud string) bool { return aud != c.clientID })
}

// equalSecret compares secrets in constant time, so the time taken does not
// reveal how much of a guess was right.
func equalSecret(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

const maxVerifiedTokens = 10_000 // about a hundred bytes each

// verifiedTokenCache remembers the access tokens that passed every check, so
// that a session's next requests need not check the same RS256 signature
// again, as API gateways' JWT filters do. It is keyed by the SHA-256 of the
// whole token: a changed byte is a miss, and no bearer token is kept. An
// entry is never used after the token's expiry. order is a ring of the keys,
// oldest first: when the cache is full, the oldest entry makes room, in O(1).
type verifiedTokenCache struct {
	mu     sync.Mutex
	tokens map[[sha256.Size]byte]cachedToken
	order  [][sha256.Size]byte
	next   int
}

type cachedToken struct {
	subject string
	expiry  time.Time
}

func newVerifiedTokenCache(size int) *verifiedTokenCache {
	return &verifiedTokenCache{tokens: make(map[[sha256.Size]byte]cachedToken, size), order: make([][sha256.Size]byte, 0, size)}
}

// lookup returns the verified token with these bytes, unless expired at now.
func (c *verifiedTokenCache) lookup(rawToken string, now time.Time) (cachedToken, bool) {
	key := sha256.Sum256([]byte(rawToken))
	c.mu.Lock()
	defer c.mu.Unlock()
	token, ok := c.tokens[key]
	if ok && !now.Before(token.expiry) {
		delete(c.tokens, key)
		return cachedToken{}, false
	}
	return token, ok
}

// add remembers a token that passed every check.
func (c *verifiedTokenCache) add(rawToken string, token cachedToken) {
	key := sha256.Sum256([]byte(rawToken))
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.tokens[key]; ok {
		return // Two requests verified it at once.
	}
	if len(c.order) < cap(c.order) {
		c.order = append(c.order, key)
	} else {
		delete(c.tokens, c.order[c.next])
		c.order[c.next] = key
		c.next = (c.next + 1) % len(c.order)
	}
	c.tokens[key] = token
}

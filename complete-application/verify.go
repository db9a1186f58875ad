package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const (
	// clockSkew is how far FusionAuth's clock may be ahead of ours.
	clockSkew = time.Minute
	// maxIDTokenAge is how old a freshly issued ID token may be. FusionAuth
	// issues it during the token request we just made, so anything older is
	// a replay.
	maxIDTokenAge = 5 * time.Minute
)

// verifiedTokens is a token response that passed every check.
type verifiedTokens struct {
	accessToken  string
	refreshToken string
	idToken      string
	user         user
}

// user is who is logged in: the claims of the verified ID token that the
// app uses on every request. cb_user holds it (see encodeSessionState).
type user struct {
	Subject  string
	Email    string
	Audience []string
	Nonce    string
}

// verifyTokenResponse checks a token endpoint response, from a login or a
// refresh, beyond what x/oauth2 and go-oidc check on their own. checkNonce
// validates the ID token's nonce: it must equal the login's nonce at login,
// and, if present, the original one after a refresh.
func (a *authenticator) verifyTokenResponse(ctx context.Context, p *identityProvider, token *oauth2.Token, checkNonce func(string) error) (verifiedTokens, error) {
	if err := checkTokenType(token); err != nil {
		return verifiedTokens{}, err
	}
	rawIDToken, ok := token.Extra("id_token").(string)
	if !ok || rawIDToken == "" {
		return verifiedTokens{}, errors.New("token response has no id_token string")
	}

	idToken, err := a.verifyIDToken(ctx, p, rawIDToken)
	if err != nil {
		return verifiedTokens{}, err
	}
	if err := checkNonce(idToken.Nonce); err != nil {
		return verifiedTokens{}, err
	}
	// at_hash binds the access token to the ID token (OpenID Connect Core 3.1.3.8).
	if idToken.AccessTokenHash != "" {
		if err := idToken.VerifyAccessToken(token.AccessToken); err != nil {
			return verifiedTokens{}, fmt.Errorf("access token does not match the ID token's at_hash: %w", err)
		}
	}
	// The access token is checked now too, so a session never starts with a
	// token that the next request would refuse.
	if _, err := a.verifyAccessToken(ctx, p, []byte(token.AccessToken), idToken.Subject); err != nil {
		return verifiedTokens{}, err
	}

	var claims struct {
		Email string `json:"email"`
	}
	if err := idToken.Claims(&claims); err != nil {
		return verifiedTokens{}, fmt.Errorf("reading ID token claims: %w", err)
	}
	return verifiedTokens{
		accessToken:  token.AccessToken,
		refreshToken: token.RefreshToken,
		idToken:      rawIDToken,
		user: user{
			Subject:  idToken.Subject,
			Audience: idToken.Audience,
			Nonce:    idToken.Nonce,
			Email:    claims.Email,
		},
	}, nil
}

// verifyAccessOnlyResponse checks a refresh response that carries no ID
// token, which OpenID Connect Core 12.2 allows: the session keeps the user
// and ID token from the login, and the new access token must be theirs.
func (a *authenticator) verifyAccessOnlyResponse(ctx context.Context, p *identityProvider, token *oauth2.Token, previous user, previousIDToken string) (verifiedTokens, error) {
	if err := checkTokenType(token); err != nil {
		return verifiedTokens{}, err
	}
	if _, err := a.verifyAccessToken(ctx, p, []byte(token.AccessToken), previous.Subject); err != nil {
		return verifiedTokens{}, err
	}
	return verifiedTokens{
		accessToken:  token.AccessToken,
		refreshToken: token.RefreshToken,
		idToken:      previousIDToken,
		user:         previous,
	}, nil
}

// checkTokenType refuses tokens that are not bearer tokens. x/oauth2 accepts
// any token type, but a DPoP or MAC token used as a bearer token would not
// work, so refuse it now.
func checkTokenType(token *oauth2.Token) error {
	if !strings.EqualFold(token.TokenType, "Bearer") {
		return fmt.Errorf("token_type is %q, want Bearer", token.TokenType)
	}
	return nil
}

// verifyIDToken runs go-oidc's checks (signature with a pinned algorithm,
// issuer, audience contains the client id, expiry) and then the ones go-oidc
// leaves to its caller.
func (a *authenticator) verifyIDToken(ctx context.Context, p *identityProvider, rawIDToken string) (*oidc.IDToken, error) {
	idToken, err := p.verifier.Verify(ctx, rawIDToken)
	if err != nil {
		return nil, fmt.Errorf("verifying ID token: %w", err)
	}
	if idToken.Subject == "" {
		return nil, errors.New("ID token has no sub")
	}
	if aud, ok := a.untrustedAudience(idToken.Audience); ok {
		return nil, fmt.Errorf("ID token has an untrusted audience %q", aud)
	}
	var claims struct {
		AuthorizedParty string `json:"azp"`
	}
	if err := idToken.Claims(&claims); err != nil {
		return nil, fmt.Errorf("reading ID token claims: %w", err)
	}
	if claims.AuthorizedParty != "" && claims.AuthorizedParty != a.clientID {
		return nil, fmt.Errorf("ID token azp is %q, not this client", claims.AuthorizedParty)
	}
	now := a.now()
	switch {
	case idToken.IssuedAt.IsZero():
		return nil, errors.New("ID token has no iat")
	case idToken.IssuedAt.After(now.Add(clockSkew)):
		return nil, fmt.Errorf("ID token iat %s is in the future", idToken.IssuedAt.UTC())
	case idToken.IssuedAt.Before(now.Add(-maxIDTokenAge)):
		return nil, fmt.Errorf("ID token iat %s is too old", idToken.IssuedAt.UTC())
	}
	return idToken, nil
}

// verifyAccessToken checks the access token locally: its signature against
// FusionAuth's cached keys, its issuer, that its audience is this client, and
// that it has not expired. No request goes to FusionAuth unless the token was
// signed by a key not yet seen (after a key rotation), when limitedKeySet
// fetches the key set once. It also checks the token belongs to the session's user.
//
// An expired token yields an error wrapping *oidc.TokenExpiredError; go-oidc
// checks expiry last, so such a token is otherwise valid and worth refreshing.
//
// A token whose exact bytes already passed every check, and that has not
// expired since, needs only the check that binds it to this session. The
// token comes as the bytes opened from its cookie, so such a request copies
// none of its kilobyte.
func (a *authenticator) verifyAccessToken(ctx context.Context, p *identityProvider, accessToken []byte, subject string) (*oidc.IDToken, error) {
	if token, ok := a.verified.lookup(accessToken, a.now()); ok {
		if token.Subject != subject {
			return nil, errors.New("access token is for another user than the session")
		}
		return token, nil
	}
	token, err := p.verifier.Verify(ctx, string(accessToken))
	if err != nil {
		return nil, fmt.Errorf("verifying access token: %w", err)
	}
	if token.Subject != subject {
		return nil, errors.New("access token is for another user than the session")
	}
	if aud, ok := a.untrustedAudience(token.Audience); ok {
		return nil, fmt.Errorf("access token has an untrusted audience %q", aud)
	}
	a.verified.add(accessToken, token, a.now())
	return token, nil
}

// untrustedAudience returns an audience of a token other than this client,
// if there is one. go-oidc accepts an audience list that merely contains our
// client id; a token also meant for other parties is not ours to accept.
func (a *authenticator) untrustedAudience(audience []string) (string, bool) {
	for _, aud := range audience {
		if aud != a.clientID {
			return aud, true
		}
	}
	return "", false
}

// equalSecret compares two secrets in constant time, so the time taken does
// not reveal how much of a guess was right.
func equalSecret(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// maxVerifiedTokens bounds the cache of verified access tokens. Each entry
// is about a kilobyte, so a full cache holds about 10 MB.
const maxVerifiedTokens = 10_000

// verifiedTokenCache remembers access tokens that passed verification, so
// that a session's next requests need not check the same RS256 signature
// again. Only the token's exact bytes count: the key is the SHA-256 hash of
// the whole token, so a changed byte is a miss. Hashing also keeps the
// tokens themselves, which are bearer credentials, out of the app's memory.
//
// An entry is never used after the token's exp, by the authenticator's
// clock, and is deleted when it is next looked up or when the cache needs
// room. The caller still checks the token's sub on every use.
type verifiedTokenCache struct {
	mu     sync.Mutex
	tokens map[[sha256.Size]byte]*oidc.IDToken
	max    int
}

func newVerifiedTokenCache(max int) *verifiedTokenCache {
	return &verifiedTokenCache{tokens: make(map[[sha256.Size]byte]*oidc.IDToken), max: max}
}

// lookup returns the verified token with these exact bytes, if it has not
// expired at now.
func (c *verifiedTokenCache) lookup(rawToken []byte, now time.Time) (*oidc.IDToken, bool) {
	key := sha256.Sum256(rawToken)
	c.mu.Lock()
	defer c.mu.Unlock()
	token, ok := c.tokens[key]
	if !ok {
		return nil, false
	}
	if !now.Before(token.Expiry) {
		delete(c.tokens, key)
		return nil, false
	}
	return token, true
}

// add remembers a token that passed every check. When the cache is full, it
// first drops the expired entries and, if none had expired, one arbitrary
// entry (Go's map iteration order is random), which costs that session one
// full verification on its next request.
func (c *verifiedTokenCache) add(rawToken []byte, token *oidc.IDToken, now time.Time) {
	key := sha256.Sum256(rawToken)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tokens) >= c.max {
		for k, t := range c.tokens {
			if !now.Before(t.Expiry) {
				delete(c.tokens, k)
			}
		}
	}
	if len(c.tokens) >= c.max {
		for k := range c.tokens {
			delete(c.tokens, k)
			break
		}
	}
	c.tokens[key] = token
}

package main

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

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
func (c *verifiedTokenCache) lookup(rawToken string, now time.Time) (*oidc.IDToken, bool) {
	key := sha256.Sum256([]byte(rawToken))
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
func (c *verifiedTokenCache) add(rawToken string, token *oidc.IDToken, now time.Time) {
	key := sha256.Sum256([]byte(rawToken))
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

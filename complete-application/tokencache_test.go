package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	cacheTestIssuer   = "https://fusionauth.test"
	cacheTestClientID = "changebank-client"
	cacheTestSubject  = "user-1"
)

// tokenBench is an authenticator whose verifier trusts a key the test holds,
// so a test can sign exactly the access token it needs, and a clock it moves.
type tokenBench struct {
	auth       *authenticator
	provider   *identityProvider
	key        *rsa.PrivateKey
	now        time.Time
	signatures atomic.Int32 // how many signatures the verifier checked
}

func newTokenBench(t *testing.T) *tokenBench {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	b := &tokenBench{key: key, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	keys := countingKeySet{KeySet: &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{&key.PublicKey}}, count: &b.signatures}
	b.auth = &authenticator{
		clientID: cacheTestClientID,
		now:      func() time.Time { return b.now },
		verified: newVerifiedTokenCache(maxVerifiedTokens),
	}
	b.provider = &identityProvider{verifier: oidc.NewVerifier(cacheTestIssuer, keys, &oidc.Config{
		ClientID:             cacheTestClientID,
		SupportedSigningAlgs: []string{oidc.RS256},
		Now:                  b.auth.now,
	})}
	return b
}

// countingKeySet counts the signature checks, to tell a cache hit from a
// full verification.
type countingKeySet struct {
	oidc.KeySet
	count *atomic.Int32
}

func (k countingKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	k.count.Add(1)
	return k.KeySet.VerifySignature(ctx, jwt)
}

// sign returns an RS256 access token with FusionAuth's claims for
// cacheTestSubject, valid for ten minutes, changed by edit.
func (b *tokenBench) sign(t *testing.T, edit func(claims map[string]any)) string {
	t.Helper()
	claims := map[string]any{
		"iss": cacheTestIssuer,
		"aud": cacheTestClientID,
		"sub": cacheTestSubject,
		"iat": b.now.Unix(),
		"exp": b.now.Add(10 * time.Minute).Unix(),
	}
	if edit != nil {
		edit(claims)
	}
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: b.key}, nil)
	require.NoError(t, err)
	jws, err := signer.Sign(payload)
	require.NoError(t, err)
	token, err := jws.CompactSerialize()
	require.NoError(t, err)
	return token
}

func (b *tokenBench) verify(token, subject string) error {
	_, err := b.auth.verifyAccessToken(context.Background(), b.provider, token, subject)
	return err
}

func (b *tokenBench) cached() int {
	b.auth.verified.mu.Lock()
	defer b.auth.verified.mu.Unlock()
	return len(b.auth.verified.tokens)
}

func TestVerifiedTokenIsNotVerifiedAgain(t *testing.T) {
	b := newTokenBench(t)
	token := b.sign(t, nil)

	for i := range 3 {
		require.NoError(t, b.verify(token, cacheTestSubject), "verification %d", i+1)
	}
	assert.Equal(t, int32(1), b.signatures.Load(), "signature checks for one token used three times")
}

// A token that failed any check must fail it again on every use: the cache
// holds only tokens that passed, and only their exact bytes.
func TestTokenThatFailedIsNeverServedFromTheCache(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(claims map[string]any)
		subject string
	}{
		{"untrusted extra audience", func(c map[string]any) { c["aud"] = []string{cacheTestClientID, "other-client"} }, cacheTestSubject},
		{"another issuer", func(c map[string]any) { c["iss"] = "https://evil.test" }, cacheTestSubject},
		{"expired", func(c map[string]any) { c["exp"] = c["iat"].(int64) - 60 }, cacheTestSubject},
		{"another user than the session", nil, "user-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTokenBench(t)
			token := b.sign(t, tt.edit)
			for i := range 2 {
				assert.Error(t, b.verify(token, tt.subject), "use %d", i+1)
			}
			assert.Zero(t, b.cached(), "cached tokens after two refusals")
		})
	}

	t.Run("one changed byte of a cached token", func(t *testing.T) {
		b := newTokenBench(t)
		token := b.sign(t, nil)
		require.NoError(t, b.verify(token, cacheTestSubject))
		require.Equal(t, 1, b.cached())

		// Change the signature's first character, which a base64url decoder
		// reads in full (a last character may carry unused bits).
		dot := strings.LastIndex(token, ".")
		replacement := "A"
		if token[dot+1] == 'A' {
			replacement = "B"
		}
		forged := token[:dot+1] + replacement + token[dot+2:]
		assert.Error(t, b.verify(forged, cacheTestSubject), "token with a changed signature")
	})
}

func TestExpiredTokenIsRefusedEvenFromTheCache(t *testing.T) {
	b := newTokenBench(t)
	token := b.sign(t, nil) // expires in ten minutes
	require.NoError(t, b.verify(token, cacheTestSubject))
	require.Equal(t, 1, b.cached())

	b.now = b.now.Add(11 * time.Minute)
	err := b.verify(token, cacheTestSubject)
	var expired *oidc.TokenExpiredError
	assert.ErrorAs(t, err, &expired, "an expired token must be refused as expired, so that the session refreshes it")
	assert.Zero(t, b.cached(), "an expired entry is dropped")
}

func TestCachedTokenIsRefusedForAnotherUser(t *testing.T) {
	b := newTokenBench(t)
	token := b.sign(t, nil)
	require.NoError(t, b.verify(token, cacheTestSubject))
	require.Equal(t, 1, b.cached())

	assert.Error(t, b.verify(token, "user-2"), "the cached token of user-1 in user-2's session")
}

// cacheEntry is a verified token as the cache sees it: only Subject and
// Expiry matter to it.
func cacheEntry(subject string, expiry time.Time) *oidc.IDToken {
	return &oidc.IDToken{Subject: subject, Expiry: expiry}
}

func TestVerifiedTokenCacheStaysBounded(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newVerifiedTokenCache(3)
	for i := range 10 {
		c.add(fmt.Sprintf("token-%d", i), cacheEntry("user", now.Add(time.Hour)), now)
		assert.LessOrEqual(t, len(c.tokens), 3, "entries after adding token-%d", i)
	}
	_, ok := c.lookup("token-9", now)
	assert.True(t, ok, "the token added last is there")
}

func TestVerifiedTokenCacheDropsExpiredEntriesFirst(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// Eviction of an unexpired entry is random, so repeat until a cache
	// that ignored expiry would almost surely have been caught.
	for round := range 20 {
		c := newVerifiedTokenCache(3)
		c.add("expired", cacheEntry("user", now.Add(time.Minute)), now)
		c.add("fresh-1", cacheEntry("user", now.Add(time.Hour)), now)
		c.add("fresh-2", cacheEntry("user", now.Add(time.Hour)), now)

		later := now.Add(2 * time.Minute)
		c.add("fresh-3", cacheEntry("user", later.Add(time.Hour)), later)
		for _, name := range []string{"fresh-1", "fresh-2", "fresh-3"} {
			_, ok := c.lookup(name, later)
			assert.True(t, ok, "round %d: %s kept while an expired entry could go", round, name)
		}
		assert.NotContains(t, c.tokens, sha256.Sum256([]byte("expired")), "round %d", round)
	}
}

func TestVerifiedTokenCacheIsSafeForConcurrentUse(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newVerifiedTokenCache(50)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				token := fmt.Sprintf("token-%d", (g*1000+i)%100)
				c.add(token, cacheEntry("user", now.Add(time.Duration(i%3)*time.Second)), now.Add(time.Second))
				c.lookup(token, now.Add(time.Second))
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, len(c.tokens), 50)
}

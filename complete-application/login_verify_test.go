// Checking FusionAuth's tokens: every check of a login's ID token and of
// the token endpoint's answer, one misbehaving FusionAuth at a time; the
// access token bound to the ID token (at_hash); the verified-token cache's
// contract (bounded, oldest out, exact bytes, expiry and user checked on
// every use, never a token that failed a check); and FusionAuth's signing
// keys: a key rotation is honoured at once, a token with an unknown key
// costs one key-set fetch, shared by concurrent requests, and a key set that
// cannot be fetched means "cannot check now", never "logged out".

package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCallbackRefusesTokensThatFailACheck runs one login per fault of the
// token endpoint's answer: every check login_verify.go makes of the ID token
// (issuer, audience, authorized party, subject, times, nonce, signature and
// algorithm) and of the answer around it (an ID token, a Bearer token type).
func TestCallbackRefusesTokensThatFailACheck(t *testing.T) {
	testLoginRefusals(t, []loginRefusal{
		{fault: fusionauthtest.FaultIDTokenWrongIssuer, status: http.StatusBadGateway,
			reason: `id token issued by a different provider, expected "{issuer}" got "https://evil.example.com"`},
		{fault: fusionauthtest.FaultIDTokenMissingIssuer, status: http.StatusBadGateway,
			reason: `id token issued by a different provider, expected "{issuer}" got ""`},
		{fault: fusionauthtest.FaultIDTokenWrongAudience, status: http.StatusBadGateway,
			reason: `expected audience "` + testClientID + `" got ["00000000-0000-4000-8000-0000000e7111"]`},
		{fault: fusionauthtest.FaultIDTokenExtraAudience, status: http.StatusBadGateway,
			reason: "ID token has an untrusted audience"},
		{fault: fusionauthtest.FaultIDTokenMissingAudience, status: http.StatusBadGateway,
			reason: `expected audience "` + testClientID + `" got []`},
		{fault: fusionauthtest.FaultIDTokenWrongAuthorizedParty, status: http.StatusBadGateway,
			reason: `ID token azp is "00000000-0000-4000-8000-0000000e7111", not this client`},
		{fault: fusionauthtest.FaultIDTokenMissingSubject, status: http.StatusBadGateway,
			reason: "ID token has no sub"},
		{fault: fusionauthtest.FaultIDTokenMissingIssuedAt, status: http.StatusBadGateway,
			reason: "ID token has no iat"},
		{fault: fusionauthtest.FaultIDTokenIssuedLongAgo, status: http.StatusBadGateway,
			reason: "is too old"},
		{fault: fusionauthtest.FaultIDTokenIssuedInFuture, status: http.StatusBadGateway,
			reason: "is in the future"},
		{fault: fusionauthtest.FaultIDTokenExpired, status: http.StatusBadGateway,
			reason: "verifying ID token: oidc: token is expired"},
		{fault: fusionauthtest.FaultIDTokenMissingExpiry, status: http.StatusBadGateway,
			reason: "verifying ID token: oidc: token is expired (Token Expiry: 0001-01-01 00:00:00 +0000 UTC)"},
		{fault: fusionauthtest.FaultIDTokenWrongNonce, status: http.StatusBadGateway,
			reason: "ID token nonce is not the login's"},
		{fault: fusionauthtest.FaultIDTokenMissingNonce, status: http.StatusBadGateway,
			reason: "ID token nonce is not the login's"},
		// A bad signature and an unknown key fail the same check, and the
		// app cannot tell them apart: go-oidc fetches the key set again for
		// either, and then finds no key that verifies the signature.
		{fault: fusionauthtest.FaultIDTokenBadSignature, status: http.StatusBadGateway,
			reason: "verifying ID token: failed to verify signature: failed to verify id token signature"},
		{fault: fusionauthtest.FaultIDTokenUnknownKey, status: http.StatusBadGateway,
			reason: "verifying ID token: failed to verify signature: failed to verify id token signature"},
		{fault: fusionauthtest.FaultIDTokenAlgNone, status: http.StatusBadGateway,
			reason: `unexpected signature algorithm "none"; expected ["RS256"]`},
		{fault: fusionauthtest.FaultIDTokenHS256ClientSecret, status: http.StatusBadGateway,
			reason: `unexpected signature algorithm "HS256"; expected ["RS256"]`},
		{fault: fusionauthtest.FaultTokenResponseNoIDToken, status: http.StatusBadGateway,
			reason: "token response has no id_token string"},
		{fault: fusionauthtest.FaultTokenResponseDPoP, status: http.StatusBadGateway,
			reason: `token_type is "DPoP", want Bearer`},
	})
}

// TestTokenResponsesWithASubstitutedAccessTokenAreRefused: an attacker who
// can tamper with the token response swaps in another, perfectly valid
// access token of the same user. The ID token's at_hash does not match it,
// at login and at refresh.
func TestTokenResponsesWithASubstitutedAccessTokenAreRefused(t *testing.T) {
	t.Run("at login", func(t *testing.T) {
		front := newIDPFront(t)
		app := front.newApp(t)
		earlier := app.newBrowser()
		require.NoError(t, earlier.logInAs(testUserEmail, testUserPassword))
		stolen := front.lastAccessToken()
		front.setTokenRewrite(func(grant string, body map[string]any) { body["access_token"] = stolen })
		front.idp.ResetRequests()

		callback, err := app.loginCallback(testUserEmail, testUserPassword)

		require.NoError(t, err)
		resp := app.get(callback)
		assertErrorPage(t, resp, http.StatusBadGateway)
		assertLoginRefusedFor(t, app, "access token does not match the ID token's at_hash")
		assertSetsNoSession(t, resp.Response)
		assertLoggedOut(t, app)
		assert.Equal(t, 1, requestsTo(front.idp, "/oauth2/token"), "the code exchange, and nothing after")
		assert.Zero(t, requestsTo(front.idp, "/oauth2/userinfo"))

		// The positive control, through the same front, in a fresh browser
		// (this one has FusionAuth's SSO session now).
		front.setTokenRewrite(nil)
		control := app.newBrowser()
		require.NoError(t, control.logInAs(testUserEmail, testUserPassword))
		assert.Equal(t, http.StatusOK, control.get("/account").StatusCode)
	})

	t.Run("at refresh", func(t *testing.T) {
		front := newIDPFront(t)
		app := front.newApp(t)
		require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
		front.idp.Advance(61 * time.Minute)
		// A login after the clock moved yields an access token that is valid now.
		other := app.newBrowser()
		require.NoError(t, other.logInAs(testUserEmail, testUserPassword))
		stolen := front.lastAccessToken()
		front.setTokenRewrite(func(grant string, body map[string]any) {
			if grant == "refresh_token" {
				body["access_token"] = stolen
			}
		})
		front.idp.ResetRequests()

		resp := app.get("/account")
		assertRefreshEndedSession(t, resp, app, front.idp, 1, "access token does not match the ID token's at_hash")
	})
}

const (
	cacheTestIssuer   = "https://fusionauth.test"
	cacheTestClientID = "changebank-client"
	cacheTestSubject  = "user-1"
)

// tokenBench is an OpenID Connect client whose verifier trusts a key the test
// holds, so a test can sign exactly the access token it needs, and a clock
// it moves.
type tokenBench struct {
	client     *oidcClient
	provider   *provider
	key        *rsa.PrivateKey
	now        time.Time
	signatures atomic.Int32 // how many signatures the verifier checked
}

func newTokenBench(t testing.TB) *tokenBench {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	b := &tokenBench{key: key, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	keys := countingKeySet{KeySet: &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{&key.PublicKey}}, count: &b.signatures}
	b.client = &oidcClient{
		clientID: cacheTestClientID,
		now:      func() time.Time { return b.now },
		verified: newVerifiedTokenCache(maxVerifiedTokens),
	}
	b.provider = &provider{verifier: oidc.NewVerifier(cacheTestIssuer, keys, &oidc.Config{
		ClientID:             cacheTestClientID,
		SupportedSigningAlgs: []string{oidc.RS256},
		Now:                  b.client.now,
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
func (b *tokenBench) sign(t testing.TB, edit func(claims map[string]any)) string {
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
	return b.client.verifyAccessToken(context.Background(), b.provider, token, subject)
}

// cached is how many tokens the cache holds.
func (b *tokenBench) cached() int {
	b.client.verified.mu.Lock()
	defer b.client.verified.mu.Unlock()
	return len(b.client.verified.tokens)
}

func TestVerifiedTokenIsNotVerifiedAgain(t *testing.T) {
	b := newTokenBench(t)
	token := b.sign(t, nil)

	for i := range 3 {
		require.NoError(t, b.verify(token, cacheTestSubject), "verification %d", i+1)
	}
	assert.Equal(t, int32(1), b.signatures.Load(), "signature checks for one token used three times")
}

// A token that failed a check must fail it again on every use: the cache
// holds only tokens that passed, and only their exact bytes.
func TestTokenThatFailedIsNeverServedFromTheCache(t *testing.T) {
	tests := []struct {
		name string
		edit func(claims map[string]any)
	}{
		{"untrusted extra audience", func(c map[string]any) { c["aud"] = []string{cacheTestClientID, "other-client"} }},
		{"another issuer", func(c map[string]any) { c["iss"] = "https://evil.test" }},
		{"expired", func(c map[string]any) { c["exp"] = c["iat"].(int64) - 60 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTokenBench(t)
			token := b.sign(t, tt.edit)
			for i := range 2 {
				assert.Error(t, b.verify(token, cacheTestSubject), "use %d", i+1)
			}
			assert.Equal(t, int32(2), b.signatures.Load(), "each use was checked in full")
			assert.Zero(t, b.cached(), "cached tokens after two refusals")
		})
	}

	// A valid token in another user's session fails the session's check,
	// not a check of the token: whether or not the cache remembers the
	// token (with its own user), every use in that session is refused.
	t.Run("another user than the session", func(t *testing.T) {
		b := newTokenBench(t)
		token := b.sign(t, nil)
		for i := range 2 {
			assert.Error(t, b.verify(token, "user-2"), "use %d", i+1)
		}
	})

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
	assert.NoError(t, b.verify(token, cacheTestSubject), "the same token in its own user's session")
}

// cacheEntry is a verified token as the cache keeps it.
func cacheEntry(subject string, expiry time.Time) cachedToken {
	return cachedToken{subject: subject, expiry: expiry}
}

func TestVerifiedTokenCacheStaysBounded(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newVerifiedTokenCache(3)
	for i := range 10 {
		c.add(fmt.Sprintf("token-%d", i), cacheEntry("user", now.Add(time.Hour)))
		assert.LessOrEqual(t, len(c.tokens), 3, "entries after adding token-%d", i)
	}
	_, ok := c.lookup("token-9", now)
	assert.True(t, ok, "the token added last is there")
}

// TestVerifiedTokenCacheEvictsTheOldestEntryWhenFull: a full cache makes
// room by dropping the entry added first, whatever the others' expiry, in
// O(1), without looking for an expired entry: expired entries go when they
// are looked up (TestVerifiedTokenCacheDropsExpiredEntriesOnLookup).
func TestVerifiedTokenCacheEvictsTheOldestEntryWhenFull(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newVerifiedTokenCache(3)
	c.add("first", cacheEntry("user", now.Add(time.Hour)))
	c.add("second", cacheEntry("user", now.Add(time.Minute)))
	c.add("third", cacheEntry("user", now.Add(time.Hour)))
	for _, added := range []string{"fourth", "fifth"} {
		c.add(added, cacheEntry("user", now.Add(time.Hour)))
	}

	for _, tt := range []struct {
		token string
		kept  bool
	}{
		{"first", false}, {"second", false}, {"third", true}, {"fourth", true}, {"fifth", true},
	} {
		_, ok := c.lookup(tt.token, now)
		assert.Equal(t, tt.kept, ok, "%s kept", tt.token)
	}
}

func TestVerifiedTokenCacheDropsExpiredEntriesOnLookup(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newVerifiedTokenCache(3)
	c.add("expiring", cacheEntry("user", now.Add(time.Minute)))
	c.add("fresh", cacheEntry("user", now.Add(time.Hour)))

	later := now.Add(time.Minute)
	_, ok := c.lookup("expiring", later)
	assert.False(t, ok, "a token is not served at its expiry")
	_, kept := c.tokens[sha256.Sum256([]byte("expiring"))]
	assert.False(t, kept, "the expired entry is gone")
	_, ok = c.lookup("fresh", later)
	assert.True(t, ok, "an unexpired entry stays")
}

func TestVerifiedTokenCacheIsSafeForConcurrentUse(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newVerifiedTokenCache(50)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				token := fmt.Sprintf("token-%d", (g*1000+i)%100)
				c.add(token, cacheEntry("user", now.Add(time.Duration(i%3)*time.Second)))
				c.lookup(token, now.Add(time.Second))
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, len(c.tokens), 50)
}

// BenchmarkVerifiedTokenCacheAddWhenFull measures an add to a full cache of
// unexpired entries, which must evict one: at 100 entries and at the
// production bound of maxVerifiedTokens. The two should cost the same. Run it with
//
//	go test ./complete-application -run '^$' -bench VerifiedTokenCacheAddWhenFull -benchmem
func BenchmarkVerifiedTokenCacheAddWhenFull(b *testing.B) {
	for _, size := range []int{100, maxVerifiedTokens} {
		b.Run("entries="+strconv.Itoa(size), func(b *testing.B) {
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			entry := cacheEntry("user", now.Add(time.Hour))
			c := newVerifiedTokenCache(size)
			for i := range size {
				c.add("filler-"+strconv.Itoa(i), entry)
			}
			require.Len(b, c.tokens, size, "the cache is full")
			i := 0
			for b.Loop() {
				c.add("added-"+strconv.Itoa(i), entry)
				i++
			}
			if len(c.tokens) != size {
				b.Fatalf("the cache holds %d entries, want %d", len(c.tokens), size)
			}
		})
	}
}

// BenchmarkVerifyAccessToken isolates the access token's check, with a real
// login's token: in full, as for a token not seen before, and from the
// cache of verified tokens, as for every later request of the session.
func BenchmarkVerifyAccessToken(b *testing.B) {
	idp := fusionauthtest.NewServer(b, fusionauthtest.Options{})
	app := newTestApp(b, idp)
	require.NoError(b, app.logInAs(testUserEmail, testUserPassword))
	record := app.record()
	accessToken, err := openSealed(app.sessions.cookies, accessTokenCookie, record.ID, app.cookie(accessTokenCookie))
	require.NoError(b, err)
	p, err := app.oidc.provider(b.Context())
	require.NoError(b, err)
	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			// An empty cache of one entry: a cache of the production size
			// would cost more to allocate than the check it forgets.
			app.oidc.verified = newVerifiedTokenCache(1)
			if err := app.oidc.verifyAccessToken(b.Context(), p, accessToken, record.Subject); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := app.oidc.verifyAccessToken(b.Context(), p, accessToken, record.Subject); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestKeyRotationRightAfterTheFirstKeyFetchIsAccepted: a signing-key
// rotation just after the application fetched FusionAuth's key set neither
// breaks logins nor ends sessions (OpenID Foundation RP test
// rp-key-rotation-op-sign-key). A fresh browser logs in with tokens signed
// by the new key after one key-set fetch; a session from before the
// rotation, signed by the old key, which FusionAuth still publishes, goes
// on without another; and a session whose access token expires refreshes
// onto the new key and stays logged in.
func TestKeyRotationRightAfterTheFirstKeyFetchIsAccepted(t *testing.T) {
	t.Run("a fresh login", func(t *testing.T) {
		idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
		// A session the instance under test will not have seen: started on
		// another instance before the rotation, so signed by the old key.
		elsewhere := newTestApp(t, idp)
		require.NoError(t, elsewhere.logInAs(testUserEmail, testUserPassword))
		app := newTestApp(t, idp)
		require.NoError(t, app.logInAs(testUserEmail, testUserPassword), "the first login fetches the key set")
		_, err := idp.RotateKey()
		require.NoError(t, err)
		idp.ResetRequests()

		fresh := app.newBrowser()
		require.NoError(t, fresh.logInAs(testUserEmail, testUserPassword), "a login with tokens signed by the new key")
		account := fresh.get("/account")
		assert.Equal(t, http.StatusOK, account.StatusCode, outline(account))
		assert.Equal(t, testUserEmail, elementText(account.body, "email"))
		assert.Equal(t, 1, requestsTo(idp, "/.well-known/jwks.json"), "one key set fetch after the rotation")

		earlier := elsewhere.onApp(app).get("/account")
		assert.Equal(t, http.StatusOK, earlier.StatusCode, "a token signed by the old key: %s", outline(earlier))
		assert.Equal(t, 1, requestsTo(idp, "/.well-known/jwks.json"), "and no fetch for the old key")
	})
	t.Run("an expired session's refresh", func(t *testing.T) {
		idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
		// Access tokens that expire within seconds of the first key fetch.
		const lifetime = 10 * time.Second
		callAdminAPI(t, idp, http.MethodPatch, "/api/application/"+testClientID, map[string]any{"application": map[string]any{
			"jwtConfiguration": map[string]any{"timeToLiveInSeconds": int(lifetime.Seconds())},
		}})
		app := newTestApp(t, idp)
		require.NoError(t, app.logInAs(testUserEmail, testUserPassword), "the login fetches the key set")
		oldAccessToken := app.cookie(accessTokenCookie)
		_, err := idp.RotateKey()
		require.NoError(t, err)
		idp.Advance(lifetime + time.Second)
		idp.ResetRequests()

		account := app.get("/account")
		assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "one refresh")
		assert.Equal(t, 1, requestsTo(idp, "/.well-known/jwks.json"), "one key set fetch for the new key")
		assert.Equal(t, http.StatusOK, account.StatusCode, "the refreshed session, signed by the new key: %s", outline(account))
		assert.Equal(t, testUserEmail, elementText(account.body, "email"))
		newAccessToken := app.cookie(accessTokenCookie)
		assert.NotEmpty(t, newAccessToken, "the browser holds an access token")
		assert.NotEqual(t, oldAccessToken, newAccessToken, "a new access token")
		assert.Equal(t, http.StatusOK, app.get("/account").StatusCode, "the session carries on")
	})
}

// TestTokenWithAnUnknownKeyCostsOneKeySetFetch: a token signed by a key
// FusionAuth does not publish makes the app fetch the key set once, and
// then refuses it; a token with a known key needs no fetch.
//
// Every such token costs its fetch: the app does not limit how often it
// fetches keys. Tokens reach the verifier only from its own sealed cookies
// or from FusionAuth's token endpoint, so no outsider can make it fetch, and
// a limit would refuse a key FusionAuth has just rotated to.
func TestTokenWithAnUnknownKeyCostsOneKeySetFetch(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword)) // the first fetch of the key set
	idp.InjectFault(fusionauthtest.FaultIDTokenUnknownKey)
	idp.ResetRequests()

	for attempt := 1; attempt <= 3; attempt++ {
		browser := app.newBrowser()
		callback, err := browser.loginCallback(testUserEmail, testUserPassword)
		require.NoError(t, err)
		resp := browser.get(callback)
		assertErrorPage(t, resp, http.StatusBadGateway)
		assertLoginRefusedFor(t, browser, "failed to verify id token signature")
		assertSetsNoSession(t, resp.Response)
		assert.Equal(t, attempt, requestsTo(idp, "/.well-known/jwks.json"), "key set fetches after %d logins with an unknown key", attempt)
	}

	idp.ClearFaults()
	control := app.newBrowser()
	require.NoError(t, control.logInAs(testUserEmail, testUserPassword))
	assert.Equal(t, http.StatusOK, control.get("/account").StatusCode)
	assert.Equal(t, 3, requestsTo(idp, "/.well-known/jwks.json"), "no fetch for a known key")
}

// TestConcurrentRequestsWithAnUnknownKeyShareOneKeySetFetch: after a key
// rotation, sessions whose tokens are signed by the new key arrive at an
// instance that has not fetched it yet, all at once. They wait for one
// key-set fetch together, and all get their account page. The key set is
// held back until the requests have had time to ask for it too.
func TestConcurrentRequestsWithAnUnknownKeyShareOneKeySetFetch(t *testing.T) {
	const sessions = 8
	front := newIDPFront(t)
	app := front.newApp(t)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword), "the first login fetches the key set")
	_, err := front.idp.RotateKey()
	require.NoError(t, err)
	// Logins on another instance, with tokens signed by the new key.
	elsewhere := front.newApp(t)
	browsers := make([]*testApp, sessions)
	for i := range browsers {
		browser := elsewhere.newBrowser()
		require.NoError(t, browser.logInAs(testUserEmail, testUserPassword))
		browsers[i] = browser.onApp(app)
	}
	front.idp.ResetRequests()
	held, release := front.holdKeySet()
	t.Cleanup(release)

	answers := make([]response, sessions)
	errs := make([]error, sessions)
	var wg sync.WaitGroup
	for i, browser := range browsers {
		wg.Go(func() { answers[i], errs[i] = browser.fetch("/account") })
	}
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		require.Fail(t, "no request asked for the key set")
	}
	// Time for a request that does not share the fetch to start its own.
	select {
	case <-held:
		assert.Fail(t, "a second key set request while the first was under way")
	case <-time.After(300 * time.Millisecond):
	}
	release()
	wg.Wait()

	for i, answer := range answers {
		if assert.NoError(t, errs[i], "session %d", i) {
			assert.Equal(t, http.StatusOK, answer.StatusCode, "session %d: %s", i, outline(answer))
			assert.Equal(t, testUserEmail, elementText(answer.body, "email"), "session %d", i)
		}
	}
	assert.Equal(t, 1, requestsTo(front.idp, "/.well-known/jwks.json"), "key set fetches for %d sessions", sessions)
}

// TestKeySetBlipAfterARestartKeepsTheSession: a key set FusionAuth fails to
// serve once does not log anyone out. After a restart (a second instance
// with the same APP_SECRET_KEY, which has fetched no key), a valid session
// that arrives while the key set answers 503 gets a 503 page and keeps its
// cookies, since the app cannot check the token rather than found it
// invalid; and once the key set answers again, the same cookies get their
// account page at once.
func TestKeySetBlipAfterARestartKeepsTheSession(t *testing.T) {
	front := newIDPFront(t)
	first := front.newApp(t)
	require.NoError(t, first.logInAs(testUserEmail, testUserPassword))
	restarted := front.newApp(t)
	browser := first.onApp(restarted)
	before := browser.copyOfCookies()

	front.setBroken("/.well-known/jwks.json", true)
	resp := browser.get("/account")
	assertErrorPage(t, resp, http.StatusServiceUnavailable)
	assertDeletesNoSessionCookie(t, resp.Response)
	for _, name := range sessionCookies {
		assert.NotEmpty(t, browser.cookie(name), "the browser keeps cookie %s", name)
	}

	front.setBroken("/.well-known/jwks.json", false)
	account := before.get("/account")
	assert.Equal(t, http.StatusOK, account.StatusCode, "the same cookies once the key set is back: %s", outline(account))
	assert.Equal(t, testUserEmail, elementText(account.body, "email"))
}

// TestCallbackWhileTheKeySetCannotBeFetched: when FusionAuth's key set does
// not answer, the app cannot check the login's tokens, which is not the
// same as finding them bad: the callback answers 503 ("try again shortly"),
// not 502, and starts no session. Once the key set answers, the same browser
// logs in.
func TestCallbackWhileTheKeySetCannotBeFetched(t *testing.T) {
	front := newIDPFront(t)
	app := front.newApp(t) // It has fetched no key yet.
	callback, err := app.loginCallback(testUserEmail, testUserPassword)
	require.NoError(t, err)
	front.setBroken("/.well-known/jwks.json", true)
	front.idp.ResetRequests()

	resp := app.get(callback)
	assertErrorPage(t, resp, http.StatusServiceUnavailable)
	assertLoginRefusedFor(t, app, "its signing keys cannot be fetched")
	assertSetsNoSession(t, resp.Response)
	assertLoggedOut(t, app)
	assert.Equal(t, 1, requestsTo(front.idp, "/oauth2/token"), "the code exchange, and nothing after it")

	// The positive control: the user does what the page says.
	front.setBroken("/.well-known/jwks.json", false)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	assert.Equal(t, testUserEmail, elementText(app.get("/account").body, "email"))
}

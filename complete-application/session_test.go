// A logged-in session: cookies sealed by the app and opened only by it;
// access tokens verified locally, with the cache of verified tokens; the
// refresh of an expired access token, verified like a login and tied to the
// same authentication, which ends the session when refused; tabs and
// replicas racing to refresh staying logged in; the session's own limits;
// bad cookies meaning "logged out"; replicas sharing one key; and a session
// that outlives a FusionAuth outage.

package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
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

func TestCookieSealerSealsAndOpens(t *testing.T) {
	sealer, err := newCookieSealer([]byte(testSecretKey), false)
	require.NoError(t, err)
	replica, err := newCookieSealer([]byte(testSecretKey), false)
	require.NoError(t, err)
	stranger, err := newCookieSealer([]byte("some-other-secret-key-of-32-characters"), false)
	require.NoError(t, err)

	sealed := sealer.seal(accessTokenCookie, []byte("token"))
	assert.NotContains(t, sealed, "token", "sealed values are encrypted")
	assert.NotEqual(t, sealed, sealer.seal(accessTokenCookie, []byte("token")), "each seal uses a fresh nonce")

	got, err := replica.open(accessTokenCookie, sealed)
	require.NoError(t, err, "a replica with the same key opens it")
	assert.Equal(t, "token", string(got))

	_, err = stranger.open(accessTokenCookie, sealed)
	assert.Error(t, err, "another key does not open it")
	_, err = sealer.open(refreshTokenCookie, sealed)
	assert.Error(t, err, "it does not open under another cookie's name")
	_, err = sealer.open(accessTokenCookie, sealed[:len(sealed)-2])
	assert.Error(t, err, "a truncated value does not open")
	_, err = sealer.open(accessTokenCookie, "")
	assert.Error(t, err, "an empty value does not open")
}

func TestCookieSealerRefusesOversizedCookies(t *testing.T) {
	sealer, err := newCookieSealer([]byte(testSecretKey), false)
	require.NoError(t, err)
	_, err = sealer.sealedCookie(accessTokenCookie, []byte(strings.Repeat("x", 3500)), 0)
	assert.ErrorIs(t, err, errCookieTooLarge)

	c, err := sealer.sealedCookie(accessTokenCookie, []byte(strings.Repeat("x", 2000)), 0)
	require.NoError(t, err)
	assert.Less(t, len(c.String()), maxCookieSize)
}

func TestCookieSealerClearMatchesAttributes(t *testing.T) {
	for _, secure := range []bool{false, true} {
		sealer, err := newCookieSealer([]byte(testSecretKey), secure)
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		sealer.clear(rec, loginCookie)
		cookies := rec.Result().Cookies()
		require.Len(t, cookies, 1)
		c := cookies[0]
		assert.Equal(t, sealer.name(loginCookie), c.Name)
		assert.Equal(t, -1, c.MaxAge)
		assert.Equal(t, "/", c.Path)
		assert.Equal(t, secure, c.Secure)
		assert.True(t, c.HttpOnly)
		assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	}
}

// TestSealedValuesBindTheFullNameAndVersion: a value sealed for a plain
// cookie does not open as its __Host- twin, nor the other way round, and a
// value of another format version does not open at all.
func TestSealedValuesBindTheFullNameAndVersion(t *testing.T) {
	plain, err := newCookieSealer([]byte(testSecretKey), false)
	require.NoError(t, err)
	host, err := newCookieSealer([]byte(testSecretKey), true)
	require.NoError(t, err)

	_, err = host.open(userCookie, plain.seal(userCookie, []byte("v")))
	assert.Error(t, err, "cb_user's value does not open as __Host-cb_user")
	_, err = plain.open(userCookie, host.seal(userCookie, []byte("v")))
	assert.Error(t, err, "__Host-cb_user's value does not open as cb_user")
	got, err := host.open(userCookie, host.seal(userCookie, []byte("v")))
	require.NoError(t, err, "the control: it opens under its own name")
	assert.Equal(t, "v", string(got))

	data, err := base64.RawURLEncoding.DecodeString(plain.seal(userCookie, []byte("v")))
	require.NoError(t, err)
	assert.Equal(t, sealVersion, data[0], "the first byte is the version")
	data[0]++
	_, err = plain.open(userCookie, base64.RawURLEncoding.EncodeToString(data))
	assert.ErrorContains(t, err, "not sealed by version", "another version does not open")
}

// TestBadSessionCookiesMeanLoggedOut: whatever is wrong with a session
// cookie, the answer is "logged out", never an error page or a panic.
func TestSessionRecordKeepsEveryField(t *testing.T) {
	want := sessionState{
		User: user{
			Subject:  "00000000-0000-0000-0000-111111111111",
			Email:    "richard@example.com",
			Audience: []string{testClientID, "another audience"},
			Nonce:    "the login's nonce",
		},
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		SeenAt:    time.Date(2026, 1, 2, 4, 5, 6, 0, time.UTC),
	}
	got, err := decodeSessionState(encodeSessionState(want))
	require.NoError(t, err)
	assert.Equal(t, want.User, got.User)
	assert.True(t, want.StartedAt.Equal(got.StartedAt), "started at %s, want %s", got.StartedAt, want.StartedAt)
	assert.True(t, want.SeenAt.Equal(got.SeenAt), "seen at %s, want %s", got.SeenAt, want.SeenAt)
}

func TestMalformedSessionRecordsAreRefused(t *testing.T) {
	record := encodeSessionState(sessionState{
		User:      user{Subject: "00000000-0000-0000-0000-111111111111", Email: "richard@example.com", Audience: []string{testClientID}},
		StartedAt: time.Unix(1_800_000_000, 0),
		SeenAt:    time.Unix(1_800_000_000, 0),
	})
	tests := map[string][]byte{
		"empty":                      {},
		"another format":             append([]byte{sessionRecordFormat + 1}, record[1:]...),
		"JSON of an earlier version": []byte(`{"user":{"sub":"x"},"started_at":"2026-01-01T00:00:00Z","seen_at":"2026-01-01T00:00:00Z"}`),
		"a byte too many":            append(slices.Clone(record), 0),
		// A string claiming more bytes than follow, and an audience count
		// larger than the record.
		"overlong string":     append([]byte{sessionRecordFormat, 0, 0}, binary.AppendUvarint(nil, 1<<40)...),
		"huge audience count": binary.AppendUvarint([]byte{sessionRecordFormat, 0, 0, 0, 0, 0}, 1<<40),
	}
	// Cut short anywhere.
	for n := range len(record) {
		tests[fmt.Sprintf("first %d bytes", n)] = record[:n]
	}
	for name, data := range tests {
		_, err := decodeSessionState(data)
		assert.Error(t, err, name)
	}
}

func TestBadSessionCookiesMeanLoggedOut(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	otherKey, err := newCookieSealer([]byte("another-secret-key-of-32-characters-or-more"), false)
	require.NoError(t, err)

	tests := []struct {
		name   string
		tamper func(app *testApp)
	}{
		{"flipped character in the access token", func(app *testApp) {
			v := []byte(app.cookie("cb_access_token"))
			v[len(v)/2] ^= 1
			app.setCookie("cb_access_token", string(v))
		}},
		{"truncated user", func(app *testApp) {
			v := app.cookie("cb_user")
			app.setCookie("cb_user", v[:len(v)/2])
		}},
		{"user sealed with another key", func(app *testApp) {
			app.setCookie("cb_user", otherKey.seal(userCookie, []byte(`{"sub":"x","email":"mallory@example.com"}`)))
		}},
		{"user cookie moved from the login cookie", func(app *testApp) {
			app.setCookie("cb_user", app.auth.cookies.seal(loginCookie, []byte(`{"sub":"x","email":"mallory@example.com"}`)))
		}},
		{"another user's subject", func(app *testApp) {
			now := idp.Now()
			admin := encodeSessionState(sessionState{User: user{Subject: "00000000-0000-0000-0000-000000000001", Email: "admin@example.com"}, StartedAt: now, SeenAt: now})
			app.setCookie("cb_user", app.auth.cookies.seal(userCookie, admin))
		}},
		{"a session without its start and last use", func(app *testApp) {
			richard := encodeSessionState(sessionState{User: user{Subject: "00000000-0000-0000-0000-111111111111", Email: "richard@example.com"}})
			app.setCookie("cb_user", app.auth.cookies.seal(userCookie, richard))
		}},
		{"a JSON user cookie of an earlier version", func(app *testApp) {
			now := idp.Now().Format(time.RFC3339)
			app.setCookie("cb_user", app.auth.cookies.seal(userCookie, []byte(`{"user":{"sub":"00000000-0000-0000-0000-111111111111","email":"richard@example.com"},"started_at":"`+now+`","seen_at":"`+now+`"}`)))
		}},
		{"garbage", func(app *testApp) {
			app.setCookie("cb_user", "%%%not-base64%%%")
			app.setCookie("cb_access_token", "")
		}},
		{"unsealed token in the access token cookie", func(app *testApp) {
			app.setCookie("cb_access_token", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
			app.setCookie("cb_refresh_token", "")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := newTestApp(t, idp)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			tt.tamper(app)
			resp := app.get("/account")
			assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
			assert.Equal(t, "/", resp.Header.Get("Location"))
			assert.Equal(t, http.StatusOK, app.get("/").StatusCode, "the home page still works")
		})
	}
}

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
	_, err := b.auth.verifyAccessToken(context.Background(), b.provider, []byte(token), subject)
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
		c.add([]byte(fmt.Sprintf("token-%d", i)), cacheEntry("user", now.Add(time.Hour)), now)
		assert.LessOrEqual(t, len(c.tokens), 3, "entries after adding token-%d", i)
	}
	_, ok := c.lookup([]byte("token-9"), now)
	assert.True(t, ok, "the token added last is there")
}

func TestVerifiedTokenCacheDropsExpiredEntriesFirst(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// Eviction of an unexpired entry is random, so repeat until a cache
	// that ignored expiry would almost surely have been caught.
	for round := range 20 {
		c := newVerifiedTokenCache(3)
		c.add([]byte("expired"), cacheEntry("user", now.Add(time.Minute)), now)
		c.add([]byte("fresh-1"), cacheEntry("user", now.Add(time.Hour)), now)
		c.add([]byte("fresh-2"), cacheEntry("user", now.Add(time.Hour)), now)

		later := now.Add(2 * time.Minute)
		c.add([]byte("fresh-3"), cacheEntry("user", later.Add(time.Hour)), later)
		for _, name := range []string{"fresh-1", "fresh-2", "fresh-3"} {
			_, ok := c.lookup([]byte(name), later)
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
				c.add([]byte(token), cacheEntry("user", now.Add(time.Duration(i%3)*time.Second)), now.Add(time.Second))
				c.lookup([]byte(token), now.Add(time.Second))
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, len(c.tokens), 50)
}

// newLimitedTestApp is newTestApp with the session limits of a default
// configuration.
func newLimitedTestApp(t *testing.T, idp *fusionauthtest.Server) *testApp {
	t.Helper()
	app := newTestApp(t, idp)
	app.auth.sessionIdleTimeout = defaultSessionIdleTimeout
	app.auth.sessionMaxLifetime = defaultSessionMaxLifetime
	return app
}

// assertEndedLocally checks that a session was refused without asking
// FusionAuth anything, and its cookies deleted.
func assertEndedLocally(t *testing.T, resp response, idp *fusionauthtest.Server) {
	t.Helper()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assertDeletesSession(t, resp.Response)
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Empty(t, idp.Requests(), "the session's limits need no FusionAuth")
}

// TestIdleSessionEnds: a session unused for longer than the idle timeout
// is refused, although its access token is still valid; one used within it
// is served, and use renews it.
func TestIdleSessionEnds(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newLimitedTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	// Used every 14 minutes, well past the 15-minute timeout in total.
	for range 3 {
		idp.Advance(defaultSessionIdleTimeout - time.Minute)
		require.Equal(t, http.StatusOK, app.get("/account").StatusCode, "a session in use lives on")
	}
	idp.Advance(defaultSessionIdleTimeout + time.Second)
	idp.ResetRequests()
	assertEndedLocally(t, app.get("/account"), idp)
	assertLoggedOut(t, app)
}

// TestSessionEndsAtItsMaximumLifetime: a session in constant use, whose
// refresh token FusionAuth would still honour, ends at the absolute
// lifetime from login, without a refresh at FusionAuth.
func TestSessionEndsAtItsMaximumLifetime(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newLimitedTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	step := defaultSessionIdleTimeout - time.Minute
	var used time.Duration
	for used+step < defaultSessionMaxLifetime {
		idp.Advance(step)
		used += step
		require.Equal(t, http.StatusOK, app.get("/account").StatusCode, "after %s", used)
	}
	idp.Advance(defaultSessionMaxLifetime - used + time.Second)
	idp.ResetRequests()
	assertEndedLocally(t, app.get("/account"), idp)
}

// TestSessionUseSetsACookieAtMostOncePerInterval: renewing the last-use
// time does not make every response set a cookie.
func TestSessionUseSetsACookieAtMostOncePerInterval(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newLimitedTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	resp := app.get("/account")
	assert.Empty(t, resp.Cookies(), "a request right after login sets no cookie")
	idp.Advance(seenInterval - time.Second)
	assert.Empty(t, app.get("/account").Cookies(), "nor one within the interval")
	idp.Advance(2 * time.Second)
	resp = app.get("/account")
	require.Len(t, resp.Cookies(), 1, "past the interval, the last use is renewed")
	assert.Equal(t, userCookie, resp.Cookies()[0].Name)
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
}

// TestStaleCookiesCannotDriveRefreshes: a cookie set replayed over and
// over without the cookies its refresh set (a copy, or a client that ignores
// Set-Cookie) makes at most one refresh at FusionAuth per share window, and
// none once it is idle.
func TestStaleCookiesCannotDriveRefreshes(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newLimitedTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	// Past the access token's expiry; the idle timeout is lifted until the
	// end of the test.
	app.auth.sessionIdleTimeout = 2 * time.Hour
	idp.Advance(61 * time.Minute)
	stale := app.copyOfCookies()
	idp.ResetRequests()

	for range 20 {
		replay := stale.copyOfCookies()
		assert.Equal(t, http.StatusOK, replay.get("/account").StatusCode)
	}
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "one refresh for twenty replays")

	idp.Advance(refreshShareWindow)
	assert.Equal(t, http.StatusOK, stale.copyOfCookies().get("/account").StatusCode)
	assert.Equal(t, 2, requestsTo(idp, "/oauth2/token"), "one more refresh after the window")

	app.auth.sessionIdleTimeout = defaultSessionIdleTimeout
	idp.ResetRequests()
	assertEndedLocally(t, stale.copyOfCookies().get("/account"), idp)
}

// TestReplicasWithOneKeyShareLoginsAndSessions: with one APP_SECRET_KEY, a
// login started on one replica finishes on another, and the session works
// on both. No state lives on a server.
func TestReplicasWithOneKeyShareLoginsAndSessions(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	lb := startReplicas(t, idp, testSecretKey, testSecretKey)
	browser := &testApp{t: t, url: lb.url, idp: idp, client: newBrowserClient(t)}

	lb.use(0)
	authorize, err := browser.startLogin()
	require.NoError(t, err)
	callback, err := browser.signIn(authorize, testUserEmail, testUserPassword)
	require.NoError(t, err)
	lb.use(1)
	resp := browser.get(callback)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "the callback on the other replica: %s", resp.body)
	assert.Equal(t, "/account", resp.Header.Get("Location"))
	lb.use(0)
	account := browser.get("/account")
	assert.Equal(t, http.StatusOK, account.StatusCode, account.body)
	assert.Equal(t, testUserEmail, elementText(account.body, "email"))
	lb.use(1)
	change := browser.post("/make-change", url.Values{"amount": {"0.58"}})
	assert.Equal(t, "We can make change for $0.58 with 11 nickels and 3 pennies!", elementText(change.body, "change-result"))

	lb.mu.Lock()
	defer lb.mu.Unlock()
	assert.Equal(t, []string{"0 GET /login", "1 GET /callback", "0 GET /account", "1 POST /make-change"}, lb.served)
}

// TestReplicasWithDifferentKeysLogTheUserOutCleanly: a replica with another
// APP_SECRET_KEY cannot open the cookies, so it treats the browser as logged
// out (and deletes the cookies) instead of failing; a login it did not start
// is refused with a clear page, before any token request.
func TestReplicasWithDifferentKeysLogTheUserOutCleanly(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	lb := startReplicas(t, idp, testSecretKey, "a-different-secret-key-of-32-characters-or-more")
	browser := &testApp{t: t, url: lb.url, idp: idp, client: newBrowserClient(t)}

	// Logged in on the first replica, the user lands on the second.
	lb.use(0)
	require.NoError(t, browser.logInAs(testUserEmail, testUserPassword))
	require.Equal(t, http.StatusOK, browser.get("/account").StatusCode)
	lb.use(1)
	resp := browser.get("/account")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assertDeletesSession(t, resp.Response)
	home := browser.get("/")
	assert.Equal(t, http.StatusOK, home.StatusCode, "the home page, logged out")
	assert.Contains(t, home.body, `id="login"`)
	lb.use(0)
	assert.Equal(t, http.StatusSeeOther, browser.get("/account").StatusCode, "the session is gone everywhere")

	// A login started on the first replica cannot finish on the second.
	browser = &testApp{t: t, url: lb.url, idp: idp, client: newBrowserClient(t)}
	lb.use(0)
	callback, err := browser.loginCallback(testUserEmail, testUserPassword)
	require.NoError(t, err)
	lb.use(1)
	idp.ResetRequests()
	resp = browser.get(callback)
	assertErrorPage(t, resp, http.StatusBadRequest)
	assertSetsNoSession(t, resp.Response)
	assert.Zero(t, requestsTo(idp, "/oauth2/token"), "no token request for a login the replica cannot open")

	// The positive control: a login entirely on the second replica works.
	browser = &testApp{t: t, url: lb.url, idp: idp, client: newBrowserClient(t)}
	require.NoError(t, browser.logInAs(testUserEmail, testUserPassword))
	assert.Equal(t, testUserEmail, elementText(browser.get("/account").body, "email"))
}

// TestProtectedPagesWhileFusionAuthIsDown: with a session but no reachable
// FusionAuth to fetch keys from, protected pages answer 503, public ones work.
func TestProtectedPagesWhileFusionAuthIsDown(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	first := newTestApp(t, idp)
	require.NoError(t, first.logInAs(testUserEmail, testUserPassword))

	srv, _ := newAppWithIssuer(t, "http://"+freeAddr(t))
	down := &testApp{t: t, url: srv.URL, idp: idp, client: newBrowserClient(t)}
	u, _ := url.Parse(first.url)
	v, _ := url.Parse(down.url)
	down.client.Jar.SetCookies(v, first.client.Jar.Cookies(u))

	assert.Equal(t, http.StatusServiceUnavailable, down.get("/account").StatusCode)
	assert.Equal(t, http.StatusOK, down.get("/").StatusCode)
	assert.NotEmpty(t, down.cookie("cb_access_token"), "the session survives an outage")
}

// TestSessionOutlivesAFusionAuthOutage: while FusionAuth is unreachable, a
// logged-in user keeps working on locally verified tokens; once the access
// token expires the refresh cannot happen, and the user gets a clear 502
// page (never a 500) while keeping the session; once FusionAuth is back, the
// same session refreshes and carries on.
func TestSessionOutlivesAFusionAuthOutage(t *testing.T) {
	t.Parallel() // It waits for timeouts; let other tests run meanwhile.
	tests := []struct {
		name    string
		outage  func(f *idpFront)
		recover func(f *idpFront)
	}{
		{"connections refused", (*idpFront).down, (*idpFront).up},
		{"no answer", func(f *idpFront) { f.setHanging(true) }, func(f *idpFront) { f.setHanging(false) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			front := newIDPFront(t)
			app := front.newApp(t)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

			tt.outage(front)
			for path, want := range map[string]string{"/account": testUserEmail, "/make-change": `id="make-change-form"`} {
				resp := app.get(path)
				assert.Equal(t, http.StatusOK, resp.StatusCode, "GET %s during the outage: %s", path, resp.body)
				assert.Contains(t, resp.body, want, path)
			}
			change := app.post("/make-change", url.Values{"amount": {"1.02"}})
			assert.Equal(t, http.StatusOK, change.StatusCode, change.body)

			// The access token expires; the refresh cannot reach FusionAuth.
			front.idp.Advance(61 * time.Minute)
			front.idp.ResetRequests()
			start := time.Now()
			resp := app.get("/account")
			assertErrorPage(t, resp, http.StatusBadGateway)
			assert.Less(t, time.Since(start), app.auth.httpClient.Timeout+3*time.Second, "the refresh gives up in time")
			for _, name := range sessionCookies {
				assert.NotEmpty(t, app.cookie(name), "an outage does not end the session: cookie %s", name)
			}
			assert.Equal(t, http.StatusOK, app.get("/").StatusCode, "the home page works during the outage")

			tt.recover(front)
			resp = app.get("/account")
			assert.Equal(t, http.StatusOK, resp.StatusCode, "after the outage: %s", resp.body)
			assert.Equal(t, testUserEmail, elementText(resp.body, "email"))
			assert.Equal(t, 1, requestsTo(front.idp, "/oauth2/token"), "one successful refresh after the outage")
		})
	}
}

// TestRefreshesExpiredAccessToken lets the access token expire and checks the
// next page refreshes it transparently, verifying the new tokens.
func TestRefreshesExpiredAccessToken(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	oldAccessToken := app.cookie("cb_access_token")

	idp.Advance(61 * time.Minute)
	idp.ResetRequests()
	account := app.get("/account")
	require.Equal(t, http.StatusOK, account.StatusCode, account.body)
	assert.Equal(t, testUserEmail, elementText(account.body, "email"))
	assert.NotEqual(t, oldAccessToken, app.cookie("cb_access_token"), "the access token cookie was replaced")
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "one refresh")

	// The refreshed session is good without further calls.
	idp.ResetRequests()
	assert.Equal(t, http.StatusOK, app.get("/account").StatusCode)
	assert.Empty(t, idp.Requests())
}

// TestRefreshRefusalsEndTheSession: a refreshed ID token for another issuer,
// subject or audience ends the session: every session cookie is deleted,
// /account refuses, and FusionAuth hears nothing more. The positive control
// refreshes the same way against a correct FusionAuth.
func TestRefreshRefusalsEndTheSession(t *testing.T) {
	tests := []struct {
		name  string
		fault fusionauthtest.Fault // 0: none, the positive control
	}{
		{"NoFault", 0},
		{fusionauthtest.FaultRefreshIDTokenWrongIssuer.String(), fusionauthtest.FaultRefreshIDTokenWrongIssuer},
		{fusionauthtest.FaultRefreshIDTokenWrongSubject.String(), fusionauthtest.FaultRefreshIDTokenWrongSubject},
		{fusionauthtest.FaultRefreshIDTokenWrongAudience.String(), fusionauthtest.FaultRefreshIDTokenWrongAudience},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
			app := newTestApp(t, idp)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			if tt.fault != 0 {
				idp.InjectFault(tt.fault)
			}
			idp.Advance(61 * time.Minute) // Past the kickstart's one-hour access tokens.
			idp.ResetRequests()

			resp := app.get("/account")
			assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "one refresh request")
			if tt.fault == 0 {
				assert.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
				assert.Equal(t, testUserEmail, elementText(resp.body, "email"))
				assert.Equal(t, http.StatusOK, app.get("/account").StatusCode)
				assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the refreshed session needs no further call")
				return
			}
			assertRefreshEndedSession(t, resp, app, idp)
		})
	}
}

// TestExpiredRefreshTokenEndsSession: when FusionAuth refuses the refresh
// token (invalid_grant), the user is logged out.
func TestExpiredRefreshTokenEndsSession(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	idp.Advance(31 * 24 * time.Hour) // Past the kickstart's 30-day refresh token lifetime.
	idp.ResetRequests()
	resp := app.getAfterRetry("/account")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the refresh FusionAuth refused")
	for _, name := range []string{"cb_access_token", "cb_refresh_token", "cb_id_token", "cb_user"} {
		assert.Empty(t, app.cookie(name), "cookie %s after a refused refresh", name)
	}
}

// TestRefreshWithoutIDToken: a refresh response may omit the ID token
// (OpenID Connect Core 12.2). The session keeps the login's user and ID
// token, and logout still sends that ID token as id_token_hint.
func TestRefreshWithoutIDToken(t *testing.T) {
	front := newIDPFront(t)
	app := front.newApp(t)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	idTokenBefore := app.cookie("cb_id_token")
	front.setTokenRewrite(func(grant string, body map[string]any) {
		if grant == "refresh_token" {
			delete(body, "id_token")
		}
	})

	front.idp.Advance(61 * time.Minute)
	resp := app.get("/account")
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	assert.Equal(t, testUserEmail, elementText(resp.body, "email"))
	assert.NotEqual(t, idTokenBefore, app.cookie("cb_id_token"), "the ID token cookie is sealed again")

	logout := app.post("/logout", nil)
	require.Equal(t, http.StatusSeeOther, logout.StatusCode)
	assert.Contains(t, logout.Header.Get("Location"), "id_token_hint=ey", "the login's ID token is the hint")
}

// TestRefreshAfterKeyRotationFetchesTheKeysOnce: tokens refreshed after
// FusionAuth rotates its signing key verify after exactly one fetch of the
// key set, and the session carries on.
func TestRefreshAfterKeyRotationFetchesTheKeysOnce(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	for rotation := 1; rotation <= 2; rotation++ {
		_, err := idp.RotateKey()
		require.NoError(t, err)
		idp.Advance(61 * time.Minute)
		idp.ResetRequests()

		resp := app.get("/account")
		assert.Equal(t, http.StatusOK, resp.StatusCode, "rotation %d: %s", rotation, resp.body)
		assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "rotation %d: one refresh", rotation)
		assert.Equal(t, 1, requestsTo(idp, "/.well-known/jwks.json"), "rotation %d: one key set fetch", rotation)

		resp = app.get("/account")
		assert.Equal(t, http.StatusOK, resp.StatusCode, "rotation %d, next request", rotation)
		assert.Equal(t, 1, requestsTo(idp, "/.well-known/jwks.json"), "rotation %d: the new key is cached", rotation)
	}
}

// TestRefreshRefusesTokensFromAnotherAuthentication: a refresh answer that is
// valid in itself (signed, fresh, for this client, at_hash matching) but
// belongs to another authentication ends the session: another user's
// refreshed tokens fail the subject check, the same user's tokens from
// another login fail the nonce check (OpenID Connect Core 12.2), and an
// answer with no ID token must still carry this user's access token.
func TestRefreshRefusesTokensFromAnotherAuthentication(t *testing.T) {
	tests := []struct {
		name string
		// steal returns a token answer from another authentication, made
		// after the victim's access token expired.
		steal func(t *testing.T, front *idpFront, victim *testApp) map[string]any
	}{
		{"none: the positive control", nil},
		{"another user's refreshed tokens", func(t *testing.T, front *idpFront, victim *testApp) map[string]any {
			return otherUsersRefresh(t, front, victim)
		}},
		{"the same user's tokens from another login", func(t *testing.T, front *idpFront, victim *testApp) map[string]any {
			front.idp.Advance(61 * time.Minute)
			other := victim.newBrowser()
			require.NoError(t, other.logInAs(testUserEmail, testUserPassword))
			return front.lastAnswer("authorization_code")
		}},
		{"another user's access token, without an ID token", func(t *testing.T, front *idpFront, victim *testApp) map[string]any {
			stolen := otherUsersRefresh(t, front, victim)
			delete(stolen, "id_token") // OpenID Connect Core 12.2 lets a refresh answer omit it.
			return stolen
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			front := newIDPFront(t)
			victim := front.newApp(t)
			require.NoError(t, victim.logInAs(testUserEmail, testUserPassword))
			if tt.steal == nil {
				front.idp.Advance(61 * time.Minute)
			} else {
				stolen := tt.steal(t, front, victim)
				front.setTokenRewrite(func(grant string, body map[string]any) {
					if grant == "refresh_token" {
						clear(body)
						maps.Copy(body, stolen)
					}
				})
			}
			front.idp.ResetRequests()

			resp := victim.get("/account")
			assert.Equal(t, 1, requestsTo(front.idp, "/oauth2/token"), "one refresh request")
			if tt.steal == nil {
				assert.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
				assert.Equal(t, testUserEmail, elementText(resp.body, "email"))
				return
			}
			assertRefreshEndedSession(t, resp, victim, front.idp)
		})
	}
}

// otherUsersRefresh logs another user in, lets the access tokens expire and
// returns that user's refresh answer.
func otherUsersRefresh(t *testing.T, front *idpFront, victim *testApp) map[string]any {
	t.Helper()
	const email, password = "mallory@example.com", "mallory-password"
	registerUser(t, front.idp, "00000000-0000-4000-8000-00000000a11c", email, password)
	other := victim.newBrowser()
	callback, err := other.loginCallback(email, password)
	require.NoError(t, err)
	require.Equal(t, http.StatusSeeOther, other.get(callback).StatusCode)
	front.idp.Advance(61 * time.Minute)
	require.Equal(t, http.StatusOK, other.get("/account").StatusCode, "the other user's refresh")
	return front.lastAnswer("refresh_token")
}

// TestRefreshRefusesNonBearerTokens: a refresh answer whose token_type is not
// Bearer ends the session, with or without a new ID token.
func TestRefreshRefusesNonBearerTokens(t *testing.T) {
	for _, tt := range []struct {
		name        string
		withIDToken bool
	}{{"with an ID token", true}, {"without an ID token", false}} {
		t.Run(tt.name, func(t *testing.T) {
			front := newIDPFront(t)
			app := front.newApp(t)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			front.setTokenRewrite(func(grant string, body map[string]any) {
				if grant == "refresh_token" {
					body["token_type"] = "DPoP"
					if !tt.withIDToken {
						delete(body, "id_token")
					}
				}
			})
			front.idp.Advance(61 * time.Minute)
			front.idp.ResetRequests()

			resp := app.get("/account")
			assertRefreshEndedSession(t, resp, app, front.idp)
		})
	}
}

// TestRefreshRefusesAMalformedIDToken: a refresh answer may leave the ID
// token out, but one that is there must be a string that verifies; anything
// else ends the session rather than counting as no ID token.
func TestRefreshRefusesAMalformedIDToken(t *testing.T) {
	for _, idToken := range []any{42, true, map[string]any{"sub": "x"}, []string{"a.b.c"}} {
		t.Run(fmt.Sprintf("%T", idToken), func(t *testing.T) {
			front := newIDPFront(t)
			app := front.newApp(t)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			front.setTokenRewrite(func(grant string, body map[string]any) {
				if grant == "refresh_token" {
					body["id_token"] = idToken
				}
			})
			front.idp.Advance(61 * time.Minute)
			front.idp.ResetRequests()

			resp := app.get("/account")
			assertRefreshEndedSession(t, resp, app, front.idp)
		})
	}
}

// refreshTokenPolicies are FusionAuth's two refresh token usage policies:
// Reusable (the kickstart's default) and OneTimeUse, which swaps the refresh
// token for a new one at every refresh.
var refreshTokenPolicies = []string{"Reusable", "OneTimeUse"}

// setRefreshTokenPolicy sets the Changebank application's policy through
// the admin API, as an administrator would.
func setRefreshTokenPolicy(t *testing.T, idp *fusionauthtest.Server, policy string) {
	t.Helper()
	callAdminAPI(t, idp, http.MethodPatch, "/api/application/"+testClientID, map[string]any{"application": map[string]any{
		"jwtConfiguration": map[string]any{"refreshTokenUsagePolicy": policy},
	}})
}

// expiredSessionUnder logs the kickstart's user in against a FusionAuth
// with the given refresh token usage policy, and lets the access token expire.
func expiredSessionUnder(t *testing.T, policy string) (*fusionauthtest.Server, *testApp) {
	t.Helper()
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	setRefreshTokenPolicy(t, idp, policy)
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	idp.Advance(61 * time.Minute) // Past the kickstart's one-hour access tokens.
	return idp, app
}

// TestTabsRefreshingTogetherStayLoggedIn: several tabs of one browser whose
// access token expired send their requests at the same moment, all with the
// same cookies. All of them are served, with one refresh at FusionAuth, and
// under OneTimeUse nobody presents the used-up refresh token again.
func TestTabsRefreshingTogetherStayLoggedIn(t *testing.T) {
	const tabs = 8
	for _, policy := range refreshTokenPolicies {
		t.Run(policy, func(t *testing.T) {
			idp, app := expiredSessionUnder(t, policy)
			oldRefreshToken := app.cookie(refreshTokenCookie)
			idp.ResetRequests()

			tabClients := make([]*testApp, tabs)
			for i := range tabClients {
				tabClients[i] = app.copyOfCookies()
			}
			statuses := make([]int, tabs)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, tab := range tabClients {
				wg.Go(func() {
					<-start
					resp, err := tab.client.Get(app.url + "/account")
					if err == nil {
						statuses[i] = resp.StatusCode
						resp.Body.Close()
					}
				})
			}
			close(start)
			wg.Wait()

			for i, status := range statuses {
				assert.Equal(t, http.StatusOK, status, "tab %d", i)
			}
			assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "one refresh for all tabs")
			for i, tab := range tabClients {
				assert.Equal(t, testUserEmail, elementText(tab.get("/account").body, "email"), "tab %d afterwards", i)
			}
			if policy == "OneTimeUse" {
				assert.NotEqual(t, oldRefreshToken, tabClients[0].cookie(refreshTokenCookie), "a new refresh token")
			}
		})
	}
}

// TestRequestSentBeforeTheNewCookiesIsServed: a request that left the
// browser before the answer to a refresh came back still carries the old
// cookies; it gets the same new tokens instead of a refresh of its own.
func TestRequestSentBeforeTheNewCookiesIsServed(t *testing.T) {
	for _, policy := range refreshTokenPolicies {
		t.Run(policy, func(t *testing.T) {
			idp, app := expiredSessionUnder(t, policy)
			late := app.copyOfCookies()
			idp.ResetRequests()

			require.Equal(t, http.StatusOK, app.get("/account").StatusCode, "the first tab refreshes")
			idp.Advance(refreshShareWindow / 2)
			resp := late.get("/account")
			assert.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
			assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the late request shares the refresh")
			assert.Equal(t, app.cookie(refreshTokenCookie) != "", late.cookie(refreshTokenCookie) != "")
		})
	}
}

// TestLostRefreshRaceOnAnotherReplicaKeepsTheWinnersCookies: under
// OneTimeUse, one tab's refresh on one replica uses up the refresh token; a
// second tab's request with the old cookies reaches another replica, which
// cannot know, and FusionAuth refuses it. That answer must not delete the
// cookies the first tab just received: it asks the browser to retry, and
// the retry, with the new cookies, is served. The control shows that a
// refused token with no winner still ends the session after that one retry.
func TestLostRefreshRaceOnAnotherReplicaKeepsTheWinnersCookies(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	setRefreshTokenPolicy(t, idp, "OneTimeUse")
	// The replicas run on the real clock, so the login's access token
	// expires for real; the refreshed ones last the rest of the test.
	setLifetime := func(seconds int) {
		callAdminAPI(t, idp, http.MethodPatch, "/api/application/"+testClientID, map[string]any{"application": map[string]any{
			"jwtConfiguration": map[string]any{"timeToLiveInSeconds": seconds},
		}})
	}
	const lifetime = 2 * time.Second
	setLifetime(int(lifetime.Seconds()))
	lb := startReplicas(t, idp, testSecretKey, testSecretKey)
	browser := &testApp{t: t, url: lb.url, idp: idp, client: newBrowserClient(t)}
	lb.use(0)
	require.NoError(t, browser.logInAs(testUserEmail, testUserPassword))
	time.Sleep(lifetime + 100*time.Millisecond)
	setLifetime(3600)
	secondTab := browser.copyOfCookies()
	stale := browser.copyOfCookies() // for the control

	lb.use(0)
	require.Equal(t, http.StatusOK, browser.get("/account").StatusCode, "the first tab refreshes on replica 0")
	lb.use(1)
	idp.ResetRequests()
	resp := secondTab.get("/account?tab=2")
	require.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode, "replica 1 asks for a retry: %s", resp.body)
	assert.Equal(t, "/account?tab=2", resp.Header.Get("Location"), "the same request again")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	for _, c := range resp.Cookies() {
		assert.NotContains(t, sessionCookies, c.Name, "the refused request leaves the session's cookies alone")
	}
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the refused refresh")

	// By the retry, the browser holds the first tab's new cookies.
	u, err := url.Parse(lb.url)
	require.NoError(t, err)
	secondTab.client.Jar.SetCookies(u, browser.client.Jar.Cookies(u))
	retry := secondTab.get("/account?tab=2")
	assert.Equal(t, http.StatusOK, retry.StatusCode, retry.body)
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the retry needs no refresh")

	// The control: nobody renewed this copy's cookies, so its retry is
	// refused again and the session ends, without a loop.
	lb.use(1)
	resp = stale.getAfterRetry("/account")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assertDeletesSession(t, resp.Response)
}

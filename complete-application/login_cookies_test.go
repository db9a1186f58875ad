// The cookie sealer: values sealed by the app open only in the app, under
// the cookie's full name and, for a session's tokens, the session's id; a
// previous APP_SECRET_KEY still opens cookies but never seals them; every
// cookie fits a browser and is deleted with the attributes it was set with;
// and behind https every cookie is Secure with the __Host- prefix.

package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	otherSecretKey    = "another-secret-key-of-32-characters-or-more"
	previousSecretKey = "the-previous-secret-key-of-32-characters"
)

func TestCookieSealerSealsAndOpens(t *testing.T) {
	sealer := newTestSealer(t, false, testSecretKey)
	replica := newTestSealer(t, false, testSecretKey)
	stranger := newTestSealer(t, false, otherSecretKey)

	sealed := sealValue(t, sealer, accessTokenCookie, "session-1", "token")
	assert.NotContains(t, sealed, "token", "sealed values are encrypted")
	assert.NotEqual(t, sealed, sealValue(t, sealer, accessTokenCookie, "session-1", "token"), "each seal uses a fresh nonce")

	got, err := openSealed(replica, accessTokenCookie, "session-1", sealed)
	require.NoError(t, err, "a replica with the same key opens it")
	assert.Equal(t, "token", string(got))

	refusals := []struct {
		name                 string
		sealer               *cookieSealer
		base, session, value string
	}{
		{"another key", stranger, accessTokenCookie, "session-1", sealed},
		{"another cookie's name", sealer, idTokenCookie, "session-1", sealed},
		{"another session", sealer, accessTokenCookie, "session-2", sealed},
		{"no session", sealer, accessTokenCookie, "", sealed},
		{"truncated", sealer, accessTokenCookie, "session-1", sealed[:len(sealed)-2]},
		{"empty", sealer, accessTokenCookie, "session-1", ""},
		{"not base64url", sealer, accessTokenCookie, "session-1", "%%%" + sealed[3:]},
	}
	for _, tt := range refusals {
		_, err := openSealed(tt.sealer, tt.base, tt.session, tt.value)
		assert.Error(t, err, "it does not open with %s", tt.name)
	}
}

func TestCookieSealerRefusesOversizedCookies(t *testing.T) {
	sealer := newTestSealer(t, false, testSecretKey)
	_, err := sealer.seal(accessTokenCookie, "session-1", strings.Repeat("x", 3500), 0)
	assert.ErrorContains(t, err, "would exceed 4096 bytes")

	c, err := sealer.seal(accessTokenCookie, "session-1", strings.Repeat("x", 2000), 0)
	require.NoError(t, err)
	assert.Less(t, len(c.String()), maxCookieSize)
}

func TestCookieSealerClearMatchesAttributes(t *testing.T) {
	for _, secure := range []bool{false, true} {
		sealer := newTestSealer(t, secure, testSecretKey)
		set, err := sealer.seal(loginCookie, "", "v", loginLifetime)
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		http.SetCookie(rec, sealer.expire(loginCookie))
		cookies := rec.Result().Cookies()
		require.Len(t, cookies, 1)
		c := cookies[0]
		assert.Equal(t, sealer.name(loginCookie), c.Name)
		assert.Equal(t, -1, c.MaxAge)
		// A browser keeps the old cookie unless these match the ones it was set with.
		assert.Equal(t, set.Path, c.Path)
		assert.Equal(t, set.Secure, c.Secure)
		assert.Equal(t, secure, c.Secure)
		assert.Equal(t, set.HttpOnly, c.HttpOnly)
		assert.True(t, c.HttpOnly)
		assert.Equal(t, set.SameSite, c.SameSite)
		assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	}
}

// TestSealedValuesBindTheFullNameAndFormat: a value sealed for a plain
// cookie does not open as its __Host- twin, nor the other way round, and a
// value sealed in another cookie format (the key derived under another HKDF
// label) does not open at all.
func TestSealedValuesBindTheFullNameAndFormat(t *testing.T) {
	plain := newTestSealer(t, false, testSecretKey)
	host := newTestSealer(t, true, testSecretKey)

	_, err := openSealed(host, sessionCookie, "", sealValue(t, plain, sessionCookie, "", "v"))
	assert.Error(t, err, "oidc_session's value does not open as __Host-oidc_session")
	_, err = openSealed(plain, sessionCookie, "", sealValue(t, host, sessionCookie, "", "v"))
	assert.Error(t, err, "__Host-oidc_session's value does not open as oidc_session")
	got, err := openSealed(host, sessionCookie, "", sealValue(t, host, sessionCookie, "", "v"))
	require.NoError(t, err, "the control: it opens under its own name")
	assert.Equal(t, "v", string(got))

	for _, tt := range []struct {
		label     string
		wantOpens bool
	}{
		{"oidc login cookies v1", true}, // the control: this format's own label
		{"changebank cookies v2", false},
		{"oidc login cookies v2", false},
	} {
		sealed := sealValue(t, sealerWithLabel(t, tt.label, testSecretKey), sessionCookie, "", "v")
		_, err := openSealed(plain, sessionCookie, "", sealed)
		assert.Equal(t, tt.wantOpens, err == nil, "a value sealed under the label %q opens: %v", tt.label, err)
	}
}

// TestPreviousKeyOpensButNeverSeals: with APP_SECRET_KEY changed and the old
// one as APP_SECRET_KEY_PREVIOUS, cookies sealed with the old key still open;
// cookies sealed from then on open with the new key alone, and never with
// the old one.
func TestPreviousKeyOpensButNeverSeals(t *testing.T) {
	before := newTestSealer(t, false, previousSecretKey)
	during := newTestSealer(t, false, testSecretKey, previousSecretKey)
	after := newTestSealer(t, false, testSecretKey)

	old := sealValue(t, before, accessTokenCookie, "session-1", "old")
	got, err := openSealed(during, accessTokenCookie, "session-1", old)
	require.NoError(t, err, "the previous key opens a cookie it sealed")
	assert.Equal(t, "old", string(got))
	_, err = openSealed(after, accessTokenCookie, "session-1", old)
	assert.Error(t, err, "once the previous key is gone, its cookies no longer open")

	sealed := sealValue(t, during, accessTokenCookie, "session-1", "new")
	_, err = openSealed(before, accessTokenCookie, "session-1", sealed)
	assert.Error(t, err, "a new cookie is not sealed with the previous key")
	got, err = openSealed(after, accessTokenCookie, "session-1", sealed)
	require.NoError(t, err, "a new cookie is sealed with the new key")
	assert.Equal(t, "new", string(got))
}

// TestSessionSurvivesASecretKeyChange: a user logged in before APP_SECRET_KEY
// changed stays logged in on an instance that has the old key as
// APP_SECRET_KEY_PREVIOUS; the cookies that instance sets from then on are
// sealed with the new key only, so an instance still on the old key alone
// treats them as logged out; and an instance with the new key but without
// the previous one logs the user out cleanly, asking FusionAuth nothing.
func TestSessionSurvivesASecretKeyChange(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	before := newAppFor(t, idp, idp.URL(), map[string]string{"APP_SECRET_KEY": previousSecretKey})
	require.NoError(t, before.logInAs(testUserEmail, testUserPassword))
	during := newAppFor(t, idp, idp.URL(), map[string]string{"APP_SECRET_KEY": testSecretKey, "APP_SECRET_KEY_PREVIOUS": previousSecretKey})
	withoutPrevious := newAppFor(t, idp, idp.URL(), map[string]string{"APP_SECRET_KEY": testSecretKey})

	t.Run("the previous key still opens the session", func(t *testing.T) {
		browser := before.onApp(during)
		idp.ResetRequests()
		account := browser.get("/account")
		assert.Equal(t, http.StatusOK, account.StatusCode, outline(account))
		assert.Equal(t, testUserEmail, elementText(account.body, "email"))
		// A new instance discovers FusionAuth and fetches its keys, no more.
		assert.Zero(t, requestsTo(idp, "/oauth2/token"), "the same session, not a new one")
	})

	t.Run("new cookies are sealed with the new key only", func(t *testing.T) {
		browser := before.onApp(during)
		idp.Advance(61 * time.Minute) // Past the access token: the refresh seals every cookie again.
		require.Equal(t, http.StatusOK, browser.get("/account").StatusCode, "the refresh after the key change")
		for _, name := range sessionCookies {
			require.NotEqual(t, before.cookie(name), browser.cookie(name), "cookie %s was sealed again", name)
		}
		assert.Equal(t, http.StatusOK, browser.get("/account").StatusCode, "the new cookies open with the new key")
		assert.Equal(t, http.StatusOK, browser.onApp(withoutPrevious).get("/account").StatusCode,
			"the new cookies need no previous key")

		oldKeyOnly := browser.onApp(before)
		idp.ResetRequests()
		resp := oldKeyOnly.get("/account")
		assertEndedLocally(t, resp, oldKeyOnly, "cookie oidc_session was not sealed by this application")
	})

	t.Run("without the previous key the user is logged out cleanly", func(t *testing.T) {
		browser := before.onApp(withoutPrevious)
		idp.ResetRequests()
		resp := browser.get("/account")
		assertEndedLocally(t, resp, browser, "cookie oidc_session was not sealed by this application")
		assertLoggedOut(t, browser)
		home := browser.get("/")
		assert.Equal(t, http.StatusOK, home.StatusCode, "the home page, logged out")
		assert.Contains(t, home.body, `id="login"`)
	})
}

// TestSecureCookiesWhenAppURLIsHTTPS: behind https, every cookie is Secure
// and carries the __Host- prefix, and the app reads its cookies back under
// those names.
func TestSecureCookiesWhenAppURLIsHTTPS(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	const appURL = "https://changebank.example"
	// Anywhere but on this machine, the kickstart's public client secret
	// is refused: give the application a secret of its own.
	const clientSecret = "a-client-secret-only-this-test-knows"
	callAdminAPI(t, idp, http.MethodPatch, "/api/application/"+testClientID, map[string]any{"application": map[string]any{
		"oauthConfiguration": map[string]any{"clientSecret": clientSecret},
	}})
	env := map[string]string{"APP_URL": appURL, "PORT": "8443", "ISSUER": idp.URL(), "APP_SECRET_KEY": testSecretKey, "CLIENT_SECRET": clientSecret}
	handler, _, _ := newHandlerFromEnv(t, env, idp.Now, io.Discard)
	registerRedirectURLs(t, idp, appURL)

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, appURL+"/login", nil))
	require.Equal(t, http.StatusSeeOther, rec.Code)
	loginCookies := rec.Result().Cookies()
	require.Len(t, loginCookies, 1)
	assert.Equal(t, "__Host-oidc_login", loginCookies[0].Name)
	assert.True(t, loginCookies[0].Secure)

	// FusionAuth sends the browser to the https callback; deliver it by hand.
	stepper := &testApp{t: t, url: appURL, idp: idp, client: newBrowserClient(t)}
	authorize, err := url.Parse(rec.Header().Get("Location"))
	require.NoError(t, err)
	callback, err := stepper.signIn(authorize, testUserEmail, testUserPassword)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, callback, nil)
	req.AddCookie(loginCookies[0])
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())

	names := map[string]bool{}
	account := httptest.NewRequest(http.MethodGet, appURL+"/account", nil)
	for _, c := range rec.Result().Cookies() {
		names[c.Name] = true
		assert.True(t, strings.HasPrefix(c.Name, "__Host-oidc_"), "cookie %s has the __Host- prefix", c.Name)
		assert.True(t, c.Secure, "cookie %s is Secure", c.Name)
		assert.True(t, c.HttpOnly, "cookie %s is HttpOnly", c.Name)
		assert.Equal(t, "/", c.Path)
		assert.Empty(t, c.Domain, "__Host- cookies have no Domain")
		if c.MaxAge >= 0 {
			account.AddCookie(c)
		}
	}
	for _, name := range sessionCookies {
		assert.True(t, names["__Host-"+name], "callback sets __Host-%s", name)
	}

	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, account)
	assert.Equal(t, http.StatusOK, rec.Code, "the session under its __Host- names: %s", rec.Body)
	assert.Equal(t, testUserEmail, elementText(rec.Body.String(), "email"))
}

// Helpers for the cookie tests (also used by login_session_test.go).

// newTestSealer is the app's cookie sealer with these secret keys, the
// first of which seals.
func newTestSealer(t testing.TB, secure bool, secretKeys ...string) *cookieSealer {
	t.Helper()
	var keys [][]byte
	for _, key := range secretKeys {
		keys = append(keys, []byte(key))
	}
	sealer, err := newCookieSealer(keys, secure)
	require.NoError(t, err)
	return sealer
}

// sealValue seals value for the cookie called base and the session
// sessionID, and returns the cookie's value.
func sealValue(t testing.TB, sealer *cookieSealer, base, sessionID, value string) string {
	t.Helper()
	c, err := sealer.seal(base, sessionID, value, 0)
	require.NoError(t, err)
	return c.Value
}

// sealBytes seals value as it is, JSON or not, as the app's key would: what
// only a holder of the key could make.
func sealBytes(sealer *cookieSealer, base, sessionID, value string) string {
	sealed := sealer.keys[0].Seal(nil, nil, []byte(value), sealer.boundTo(base, sessionID))
	return base64.RawURLEncoding.EncodeToString(sealed)
}

// sealerWithLabel is a plain-http cookie sealer whose key is derived from
// secret as newCookieSealer derives it, but under the HKDF label given: a
// sealer of another cookie format.
func sealerWithLabel(t testing.TB, label, secret string) *cookieSealer {
	t.Helper()
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, label, 32)
	require.NoError(t, err)
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	aead, err := cipher.NewGCMWithRandomNonce(block)
	require.NoError(t, err)
	return &cookieSealer{keys: []cipher.AEAD{aead}}
}

// openSealed opens a sealed cookie value as the app would find it in a
// request, and returns what it holds: a string as itself, anything else as
// its JSON.
func openSealed(sealer *cookieSealer, base, sessionID, sealed string) (string, error) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: sealer.name(base), Value: sealed})
	var raw json.RawMessage
	if err := sealer.open(req, base, sessionID, &raw); err != nil {
		return "", err
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return text, nil
	}
	return string(raw), nil
}

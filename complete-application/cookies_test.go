package main

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCookieJarSealsAndOpens(t *testing.T) {
	jar, err := newCookieSealer([]byte(testSecretKey), false)
	require.NoError(t, err)
	replica, err := newCookieSealer([]byte(testSecretKey), false)
	require.NoError(t, err)
	stranger, err := newCookieSealer([]byte("some-other-secret-key-of-32-characters"), false)
	require.NoError(t, err)

	sealed := jar.seal(accessTokenCookie, []byte("token"))
	assert.NotContains(t, sealed, "token", "sealed values are encrypted")
	assert.NotEqual(t, sealed, jar.seal(accessTokenCookie, []byte("token")), "each seal uses a fresh nonce")

	got, err := replica.open(accessTokenCookie, sealed)
	require.NoError(t, err, "a replica with the same key opens it")
	assert.Equal(t, "token", string(got))

	_, err = stranger.open(accessTokenCookie, sealed)
	assert.Error(t, err, "another key does not open it")
	_, err = jar.open(refreshTokenCookie, sealed)
	assert.Error(t, err, "it does not open under another cookie's name")
	_, err = jar.open(accessTokenCookie, sealed[:len(sealed)-2])
	assert.Error(t, err, "a truncated value does not open")
	_, err = jar.open(accessTokenCookie, "")
	assert.Error(t, err, "an empty value does not open")
}

func TestCookieJarRefusesOversizedCookies(t *testing.T) {
	jar, err := newCookieSealer([]byte(testSecretKey), false)
	require.NoError(t, err)
	_, err = jar.sealedCookie(accessTokenCookie, []byte(strings.Repeat("x", 3500)), 0)
	assert.ErrorIs(t, err, errCookieTooLarge)

	c, err := jar.sealedCookie(accessTokenCookie, []byte(strings.Repeat("x", 2000)), 0)
	require.NoError(t, err)
	assert.Less(t, len(c.String()), maxCookieSize)
}

func TestCookieJarClearMatchesAttributes(t *testing.T) {
	for _, secure := range []bool{false, true} {
		jar, err := newCookieSealer([]byte(testSecretKey), secure)
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		jar.clear(rec, loginCookie)
		cookies := rec.Result().Cookies()
		require.Len(t, cookies, 1)
		c := cookies[0]
		assert.Equal(t, jar.name(loginCookie), c.Name)
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

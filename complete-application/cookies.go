package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// The cookies the application sets. All start with cb_ and, when APP_URL is
// https, get the __Host- prefix (see cookieSealer.name).
const (
	// loginCookie carries one login's state, nonce and PKCE verifier from
	// /login to /callback.
	loginCookie = "cb_login"
	// The session: see session.go.
	accessTokenCookie  = "cb_access_token"
	refreshTokenCookie = "cb_refresh_token"
	idTokenCookie      = "cb_id_token"
	userCookie         = "cb_user"
	// logoutCookie carries one logout's state from POST /logout to the
	// return from FusionAuth's end-session endpoint.
	logoutCookie = "cb_logout"
	// refreshRetryCookie marks a session whose refresh FusionAuth refused
	// once: see retryAfterLostRace.
	refreshRetryCookie = "cb_refresh_retry"
)

// sealVersion is the first byte of every sealed value. A future change of
// format or key gets a new version, and values of the old one then simply
// fail to open (the user is logged out) instead of being misread.
const sealVersion byte = 1

// maxCookieSize is what every browser keeps for one cookie (name, value and
// attributes). Larger cookies are dropped silently, so we refuse to set them.
const maxCookieSize = 4096

// cookieSealer seals and opens the application's cookies.
//
// Every value is encrypted and authenticated with AES-GCM under a key derived
// from APP_SECRET_KEY, so the browser holds the session but can neither read
// nor change it, and there is no session store on the server: any replica
// with the same APP_SECRET_KEY can read any cookie.
type cookieSealer struct {
	aead cipher.AEAD
	// secure is true when APP_URL is https: the cookies are then sent over
	// https only and get the __Host- prefix, which also pins them to this
	// host and to Path=/.
	secure bool
	// additionalData holds, per cookie name, what its values are bound to
	// (see seal), built once so that opening a cookie does not build it again.
	additionalData map[string][]byte
}

func newCookieSealer(secretKey []byte, secure bool) (*cookieSealer, error) {
	// HKDF turns the configured secret, whatever its form, into a uniformly
	// random 256-bit key dedicated to this one purpose.
	key, err := hkdf.Key(sha256.New, secretKey, nil, "changebank cookie sealing v1", 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the cookie key from APP_SECRET_KEY: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("creating the cookie cipher: %w", err)
	}
	// A random 96-bit nonce per seal, prepended to the ciphertext.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("creating the cookie cipher: %w", err)
	}
	j := &cookieSealer{aead: aead, secure: secure, additionalData: make(map[string][]byte)}
	for _, base := range []string{loginCookie, accessTokenCookie, refreshTokenCookie, idTokenCookie, userCookie, logoutCookie, refreshRetryCookie} {
		j.additionalData[base] = append([]byte{sealVersion}, j.name(base)...)
	}
	return j, nil
}

// name is the cookie's name as the browser stores it.
func (j *cookieSealer) name(base string) string {
	if j.secure {
		return "__Host-" + base
	}
	return base
}

// seal encrypts value for the cookie called base. The version and the
// cookie's full name (with its __Host- prefix) are authenticated too, so a
// sealed value only opens under the name it was sealed for: nobody can move,
// say, the login cookie's value into the token cookie, or a value sealed for
// a plain-http deployment into a __Host- cookie.
func (j *cookieSealer) seal(base string, value []byte) string {
	sealed := j.aead.Seal([]byte{sealVersion}, nil, value, j.boundTo(base))
	return base64.RawURLEncoding.EncodeToString(sealed)
}

func (j *cookieSealer) open(base, sealed string) ([]byte, error) {
	data, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return nil, fmt.Errorf("decoding cookie %s: %w", base, err)
	}
	if len(data) == 0 || data[0] != sealVersion {
		return nil, fmt.Errorf("opening cookie %s: not sealed by version %d", base, sealVersion)
	}
	// Decrypting in place, over the ciphertext just decoded, makes opening a
	// cookie cost one buffer instead of two: the session's cookies are
	// opened on every request.
	ciphertext := data[1:]
	value, err := j.aead.Open(ciphertext[:0], nil, ciphertext, j.boundTo(base))
	if err != nil {
		return nil, fmt.Errorf("opening cookie %s: %w", base, err)
	}
	return value, nil
}

// boundTo is what a sealed value is bound to besides the key: the version
// and the cookie's full name, prebuilt for the app's own cookies.
func (j *cookieSealer) boundTo(base string) []byte {
	if data, ok := j.additionalData[base]; ok {
		return data
	}
	return append([]byte{sealVersion}, j.name(base)...)
}

// errCookieTooLarge means a token is too big to fit in a cookie.
var errCookieTooLarge = errors.New("cookie would exceed 4096 bytes")

// sealedCookie returns the cookie called base holding value, sealed. maxAge 0 makes
// a session cookie, which the browser forgets when it closes.
func (j *cookieSealer) sealedCookie(base string, value []byte, maxAge time.Duration) (*http.Cookie, error) {
	c := j.cookie(base, j.seal(base, value))
	if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
	}
	if len(c.String()) > maxCookieSize {
		return nil, fmt.Errorf("%s: %w", base, errCookieTooLarge)
	}
	return c, nil
}

// setJSON seals v, encoded as JSON, into the cookie called base.
func (j *cookieSealer) setJSON(w http.ResponseWriter, base string, v any, maxAge time.Duration) error {
	value, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding cookie %s: %w", base, err)
	}
	c, err := j.sealedCookie(base, value, maxAge)
	if err != nil {
		return err
	}
	setCookie(w, c)
	return nil
}

// setCookie sets (or deletes) a cookie and keeps the response out of every
// cache: a cached response that sets a session cookie would hand the session
// to whoever gets the cached copy. Every cookie of the app goes through here,
// so no route can forget it, not even a GET / that refreshed the session.
func setCookie(w http.ResponseWriter, c *http.Cookie) {
	w.Header().Set("Cache-Control", "no-store")
	http.SetCookie(w, c)
}

// get opens the cookie called base. A missing cookie is http.ErrNoCookie; a
// truncated, tampered or foreign one is another error. Either way, the
// request is not logged in.
func (j *cookieSealer) get(r *http.Request, base string) ([]byte, error) {
	c, err := r.Cookie(j.name(base))
	if err != nil {
		return nil, err
	}
	return j.open(base, c.Value)
}

// getJSON opens the cookie called base and decodes its JSON into v.
func (j *cookieSealer) getJSON(r *http.Request, base string, v any) error {
	value, err := j.get(r, base)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(value, v); err != nil {
		return fmt.Errorf("decoding cookie %s: %w", base, err)
	}
	return nil
}

// clear tells the browser to delete the cookie called base. The attributes
// must match the ones it was set with, or a browser keeps the old cookie.
func (j *cookieSealer) clear(w http.ResponseWriter, base string) {
	c := j.cookie(base, "")
	c.MaxAge = -1
	setCookie(w, c)
}

// cookie returns the cookie called base with the attributes every cookie of
// this application has. HttpOnly hides it from JavaScript. SameSite=Lax keeps
// it off cross-site subrequests and posts, yet still sends it on the top-level
// redirect back from FusionAuth, which Strict would not.
func (j *cookieSealer) cookie(base, value string) *http.Cookie {
	return &http.Cookie{
		Name:     j.name(base),
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   j.secure,
		SameSite: http.SameSiteLaxMode,
	}
}

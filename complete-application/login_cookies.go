package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// The cookies the login sets. With an https AppURL, each name gets the
// __Host- prefix, which also pins the cookie to this host and to Path=/.
const (
	loginCookie       = "oidc_login"        // the logins this browser started: login_callback.go
	sessionCookie     = "oidc_session"      // the session's record: login_session.go
	accessTokenCookie = "oidc_access_token" // the session's access token
	idTokenCookie     = "oidc_id_token"     // the session's ID token, for logout
	logoutCookie      = "oidc_logout"       // the last logout: login_logout.go
)

// maxCookieSize is what every browser keeps of one cookie (name, value and
// attributes); it drops a larger one silently, so we refuse to set it.
const maxCookieSize = 4096

// cookieSealer seals and opens the login's cookies with AES-GCM, under a key
// derived from the app's secret key: the browser holds the session but can
// neither read nor change it, and any replica with the key can read it.
type cookieSealer struct {
	keys   []cipher.AEAD // keys[0] seals; every key opens
	secure bool          // AppURL is https: Secure cookies, __Host- names
}

func newCookieSealer(secretKeys [][]byte, secure bool) (*cookieSealer, error) {
	s := &cookieSealer{secure: secure}
	for _, secret := range secretKeys {
		// HKDF makes a 256-bit key for this one purpose. The label names the
		// cookie format: cookies of another one fail to open, not misread.
		key, err := hkdf.Key(sha256.New, secret, nil, "oidc login cookies v1", 32)
		if err != nil {
			return nil, fmt.Errorf("deriving the cookie key: %w", err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("creating the cookie cipher: %w", err)
		}
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, fmt.Errorf("creating the cookie cipher: %w", err)
		}
		s.keys = append(s.keys, aead)
	}
	return s, nil
}

// seal returns the cookie called base holding v as sealed JSON, bound to the
// session sessionID ("" outside one): the sealed value opens only as this
// cookie, of this session, so nobody can move it to another cookie, or one
// session's tokens to another's record. maxAge 0 keeps it until the browser
// ends the session (which a browser that restores sessions may never do).
func (s *cookieSealer) seal(base, sessionID string, v any, maxAge time.Duration) (*http.Cookie, error) {
	value, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding cookie %s: %w", base, err)
	}
	sealed := s.keys[0].Seal(nil, nil, value, s.boundTo(base, sessionID))
	c := s.cookie(base, base64.RawURLEncoding.EncodeToString(sealed))
	c.MaxAge = int(maxAge / time.Second)
	if len(c.String()) > maxCookieSize {
		return nil, fmt.Errorf("cookie %s would exceed %d bytes", base, maxCookieSize)
	}
	return c, nil
}

// open reads the cookie called base, sealed for sessionID, into v. A missing
// cookie is http.ErrNoCookie; a truncated, tampered or foreign one, or one of
// another session, is another error.
func (s *cookieSealer) open(r *http.Request, base, sessionID string, v any) error {
	c, err := r.Cookie(s.name(base))
	if err != nil {
		return err
	}
	data, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return fmt.Errorf("decoding cookie %s: %w", base, err)
	}
	for _, key := range s.keys {
		if value, err := key.Open(nil, nil, data, s.boundTo(base, sessionID)); err == nil {
			if err := json.Unmarshal(value, v); err != nil {
				return fmt.Errorf("decoding cookie %s: %w", base, err)
			}
			return nil
		}
	}
	return fmt.Errorf("cookie %s was not sealed by this application for this session", base)
}

// expire returns the cookie that tells the browser to delete the cookie
// called base. Its attributes match the ones it was set with, or a browser
// keeps the old cookie.
func (s *cookieSealer) expire(base string) *http.Cookie {
	c := s.cookie(base, "")
	c.MaxAge = -1
	return c
}

// name is the cookie's name as the browser stores it.
func (s *cookieSealer) name(base string) string {
	if s.secure {
		return "__Host-" + base
	}
	return base
}

// boundTo is what a sealed value is bound to besides the key: the cookie's
// full name and the session's id.
func (s *cookieSealer) boundTo(base, sessionID string) []byte {
	return []byte(s.name(base) + "\x00" + sessionID)
}

// cookie returns the cookie called base with the attributes all the login's
// cookies have. HttpOnly hides it from JavaScript. SameSite=Lax keeps it off
// cross-site requests, except top-level navigations: the redirect back from
// FusionAuth is one, and Strict would drop the cookie there, so no login
// could finish. It also means that when FusionAuth is on another site (not
// auth.example.com beside app.example.com), its front-channel logout, which
// loads /logout in an iframe, arrives without these cookies and can end
// nothing; Safari and Firefox block third-party cookies in iframes anyway,
// and FusionAuth has no back-channel logout. A logout another application
// starts then ends this app's session only at the session's own limits.
func (s *cookieSealer) cookie(base, value string) *http.Cookie {
	return &http.Cookie{Name: s.name(base), Value: value, Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode}
}

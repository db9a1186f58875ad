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

// The cookies the application sets. With an https APP_URL, each name gets
// the __Host- prefix, which also pins the cookie to this host and to Path=/.
const (
	loginCookie       = "cb_login"         // the logins this browser started: login.go
	sessionCookie     = "cb_session"       // the session's record: session.go
	accessTokenCookie = "cb_access_token"  // the session's access token
	idTokenCookie     = "cb_id_token"      // the session's ID token, for logout
	retryCookie       = "cb_refresh_retry" // a refused refresh: refresh.go
	logoutCookie      = "cb_logout"        // the last logout: logout.go
)

// maxCookieSize is what every browser keeps of one cookie (name, value and
// attributes); it drops a larger one silently, so we refuse to set it.
const maxCookieSize = 4096

// cookieSealer seals and opens the application's cookies with AES-GCM, under
// a key derived from APP_SECRET_KEY: the browser holds the session but can
// neither read nor change it, and any replica with the key can read it.
type cookieSealer struct {
	keys   []cipher.AEAD // keys[0] seals; every key opens
	secure bool          // APP_URL is https: Secure cookies, __Host- names
}

func newCookieSealer(secretKeys [][]byte, secure bool) (*cookieSealer, error) {
	s := &cookieSealer{secure: secure}
	for _, secret := range secretKeys {
		// HKDF makes a 256-bit key for this one purpose. The label names the
		// cookie format: cookies of another one fail to open, not misread.
		key, err := hkdf.Key(sha256.New, secret, nil, "changebank cookies v2", 32)
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

// name is the cookie's name as the browser stores it.
func (s *cookieSealer) name(base string) string {
	if s.secure {
		return "__Host-" + base
	}
	return base
}

// boundTo is what a sealed value is bound to besides the key: the cookie's
// full name and, for a session's tokens, the session's id. Nobody can move a
// value to another cookie, or one session's tokens to another's record.
func (s *cookieSealer) boundTo(base, sessionID string) []byte {
	return []byte(s.name(base) + "\x00" + sessionID)
}

func (s *cookieSealer) open(base, sessionID, sealed string) ([]byte, error) {
	data, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return nil, fmt.Errorf("decoding cookie %s: %w", base, err)
	}
	for _, key := range s.keys {
		if value, err := key.Open(nil, nil, data, s.boundTo(base, sessionID)); err == nil {
			return value, nil
		}
	}
	return nil, fmt.Errorf("cookie %s was not sealed by this application for this session", base)
}

// sealedCookie returns the cookie called base holding value, sealed for the
// session sessionID ("" outside one). maxAge 0: until the browser closes.
func (s *cookieSealer) sealedCookie(base, sessionID string, value []byte, maxAge time.Duration) (*http.Cookie, error) {
	sealed := s.keys[0].Seal(nil, nil, value, s.boundTo(base, sessionID))
	c := s.cookie(base, base64.RawURLEncoding.EncodeToString(sealed))
	c.MaxAge = int(maxAge / time.Second)
	if len(c.String()) > maxCookieSize {
		return nil, fmt.Errorf("cookie %s would exceed %d bytes", base, maxCookieSize)
	}
	return c, nil
}

// read opens the cookie called base. A missing cookie is http.ErrNoCookie; a
// truncated, tampered or foreign one is another error.
func (s *cookieSealer) read(r *http.Request, base, sessionID string) ([]byte, error) {
	c, err := r.Cookie(s.name(base))
	if err != nil {
		return nil, err
	}
	return s.open(base, sessionID, c.Value)
}

// setJSON seals v, as JSON, into the cookie called base.
func (s *cookieSealer) setJSON(w http.ResponseWriter, base string, v any, maxAge time.Duration) error {
	value, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding cookie %s: %w", base, err)
	}
	c, err := s.sealedCookie(base, "", value, maxAge)
	if err != nil {
		return err
	}
	setCookie(w, c)
	return nil
}

// readJSON opens the cookie called base and decodes its JSON into v.
func (s *cookieSealer) readJSON(r *http.Request, base string, v any) error {
	value, err := s.read(r, base, "")
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
func (s *cookieSealer) clear(w http.ResponseWriter, base string) {
	c := s.cookie(base, "")
	c.MaxAge = -1
	setCookie(w, c)
}

// cookie returns the cookie called base with the attributes all the app's
// cookies have. HttpOnly hides it from JavaScript. SameSite=Lax keeps it off
// cross-site requests, except the top-level redirect back from FusionAuth,
// which Strict would block.
func (s *cookieSealer) cookie(base, value string) *http.Cookie {
	return &http.Cookie{Name: s.name(base), Value: value, Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode}
}

// setCookie sets (or deletes) a cookie and keeps the response out of every
// cache, where it would hand the session to anyone. Every cookie goes here.
func setCookie(w http.ResponseWriter, c *http.Cookie) {
	w.Header().Set("Cache-Control", "no-store")
	http.SetCookie(w, c)
}

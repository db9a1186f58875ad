package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// A session is three sealed cookies and no state on the server: its record,
// its access token and its ID token (for logout). A JWT can fill half of the
// 4096 bytes a browser keeps per cookie, so each token has its own. The
// record names the session with a random id, and the token cookies are
// sealed for that id: cookies mixed from two sessions or two users do not
// open together, and are logged out before FusionAuth is called. Closing the
// browser ends the session, and so do its limits, whatever FusionAuth would
// still refresh.

// seenInterval is how stale the last use may get before a request renews it,
// so that not every response sets a cookie.
const seenInterval = time.Minute

// session is the record in cb_session.
type session struct {
	ID           string    `json:"id"` // the token cookies are sealed for it
	Subject      string    `json:"sub"`
	Email        string    `json:"email"`
	Nonce        string    `json:"nonce"` // a refreshed ID token must carry it, if any
	RefreshToken string    `json:"refresh_token,omitempty"`
	StartedAt    time.Time `json:"started_at"` // the login: the lifetime counts from it
	SeenAt       time.Time `json:"seen_at"`    // the last use: the idle timeout counts from it
}

// sessions keeps the users' sessions in their cookies: it starts, checks,
// refreshes (refresh.go) and ends them.
type sessions struct {
	cookies     *cookieSealer
	oidc        *oidcClient
	logger      *slog.Logger
	idleTimeout time.Duration
	maxLifetime time.Duration
	now         func() time.Time
}

var (
	errLoggedOut    = errors.New("not logged in")
	errRetryRequest = errors.New("retry the request with the newest cookies") // see retryOnce
)

// start stores verified tokens and the session's record in the cookies, and
// returns the record. It seals the tokens before it sets any cookie, so a
// token too large for a cookie leaves no half-written session behind.
func (s *sessions) start(w http.ResponseWriter, tokens verifiedTokens, record session) (session, error) {
	record.Subject, record.Email = tokens.subject, tokens.email
	// A refresh answer may lack a refresh token: the session's stays valid.
	if tokens.refreshToken != "" {
		record.RefreshToken = tokens.refreshToken
	}
	access, err := s.cookies.sealedCookie(accessTokenCookie, record.ID, []byte(tokens.accessToken), 0)
	if err != nil {
		return session{}, err
	}
	id, err := s.cookies.sealedCookie(idTokenCookie, record.ID, []byte(tokens.idToken), 0)
	if err != nil {
		return session{}, err
	}
	if err := s.cookies.setJSON(w, sessionCookie, record, 0); err != nil {
		return session{}, err
	}
	setCookie(w, access)
	setCookie(w, id)
	return record, nil
}

// read opens the session's record. A missing cookie is http.ErrNoCookie.
func (s *sessions) read(r *http.Request) (session, error) {
	var record session
	err := s.cookies.readJSON(r, sessionCookie, &record)
	return record, err
}

// clear deletes every cookie of the session, and a login in progress. A
// logout in progress keeps its cookie (see logout.go).
func (s *sessions) clear(w http.ResponseWriter) {
	for _, name := range []string{sessionCookie, accessTokenCookie, idTokenCookie, retryCookie, loginCookie} {
		s.cookies.clear(w, name)
	}
}

// checkLimits refuses a session past its lifetime or idle timeout, without
// FusionAuth: a copied or forgotten cookie set stops on time, and a stale one
// costs FusionAuth nothing. A time in the future is refused, not read as fresh.
func (s *sessions) checkLimits(record session, now time.Time) error {
	switch {
	case record.StartedAt.After(now.Add(clockSkew)) || record.SeenAt.After(now.Add(clockSkew)):
		return errors.New("the session's times are in the future")
	case now.Sub(record.StartedAt) > s.maxLifetime:
		return fmt.Errorf("the session started more than %s ago", s.maxLifetime)
	case now.Sub(record.SeenAt) > s.idleTimeout:
		return fmt.Errorf("the session was idle for more than %s", s.idleTimeout)
	}
	return nil
}

// load returns the request's session after checking its limits and access
// token, refreshing an expired token (which replaces the cookies on w). It
// returns errLoggedOut, after deleting cookies that failed to open or verify;
// errRetryRequest for a lost refresh race; errRefreshFailed; or, keeping the
// cookies, an error wrapping errProviderUnavailable.
func (s *sessions) load(w http.ResponseWriter, r *http.Request) (session, error) {
	record, err := s.read(r)
	if errors.Is(err, http.ErrNoCookie) {
		return session{}, errLoggedOut
	} else if err != nil {
		// Truncated, tampered, foreign or sealed with another key.
		return session{}, s.end(w, "an unreadable session cookie", err)
	}
	now := s.now()
	if err := s.checkLimits(record, now); err != nil {
		return session{}, s.end(w, "the session's limits", err)
	}
	var logout logoutTransaction
	if s.cookies.readJSON(r, logoutCookie, &logout) == nil && logout.SessionID == record.ID {
		// A refresh under way at the logout has set the cookies again.
		s.logger.Info("revoking a refresh token that arrived after logout", "sub", record.Subject,
			"logout_api", s.oidc.revoke(context.WithoutCancel(r.Context()), record))
		return session{}, s.end(w, "a logout", nil)
	}
	accessToken, err := s.cookies.read(r, accessTokenCookie, record.ID)
	if err != nil {
		return session{}, s.end(w, "a missing access token, or one of another session", err)
	}

	p, err := s.oidc.provider(r.Context())
	if err != nil {
		return session{}, err
	}
	err = s.oidc.verifyAccessToken(r.Context(), p, accessToken, record.Subject)
	var expired *oidc.TokenExpiredError
	switch {
	case err == nil:
		if now.Sub(record.SeenAt) >= seenInterval {
			record.SeenAt = now
			s.renew(w, record)
		}
		return record, nil
	case errors.As(err, &expired):
		return s.refresh(w, r, p, record)
	case errors.Is(err, errProviderUnavailable):
		return session{}, err
	}
	return session{}, s.end(w, "an invalid access token", err)
}

// end logs why a session ends, deletes its cookies and returns errLoggedOut.
func (s *sessions) end(w http.ResponseWriter, why string, err error) error {
	s.logger.Info("ending the session", "reason", why, "err", err)
	s.clear(w)
	return errLoggedOut
}

// renew stores the session's new last use in its record.
func (s *sessions) renew(w http.ResponseWriter, record session) {
	if err := s.cookies.setJSON(w, sessionCookie, record, 0); err != nil {
		s.logger.Error("renewing the session's last use", "err", err)
	}
}

type sessionContextKey struct{}

// sessionFrom returns the session requireLogin put in the request's context.
func sessionFrom(ctx context.Context) session {
	s, _ := ctx.Value(sessionContextKey{}).(session)
	return s
}

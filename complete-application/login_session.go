package main

import (
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
// open together, and are logged out before FusionAuth is called. The cookies
// last until the browser ends its session, which a browser that restores
// sessions may never do; the session's own limits end it whatever the
// browser or FusionAuth would still allow.

// seenInterval is how stale the last use may get before a request renews it,
// so that not every response sets a cookie.
const seenInterval = time.Minute

// session is the record in oidc_session.
type session struct {
	ID           string    `json:"id"` // the token cookies are sealed for it
	Subject      string    `json:"sub"`
	Email        string    `json:"email"`
	Nonce        string    `json:"nonce"` // a refreshed ID token must carry it, if any
	RefreshToken string    `json:"refresh_token,omitempty"`
	StartedAt    time.Time `json:"started_at"` // the login: the lifetime counts from it
	SeenAt       time.Time `json:"seen_at"`    // the last use: the idle timeout counts from it
}

// logoutMarker is what a logout leaves in oidc_logout: the session it ended,
// and for a logout this app started, the state that ties FusionAuth's answer
// to it. A refresh still under way when the session ended can set its cookies
// again when its answer arrives; the next request finds the session named
// here, revokes what the refresh brought, and ends it.
type logoutMarker struct {
	SessionID        string    `json:"session_id"`
	State            string    `json:"state,omitempty"`
	RevocationFailed bool      `json:"revocation_failed,omitempty"`
	ExpiresAt        time.Time `json:"expires_at"`
}

// logoutMarkerLifetime outlasts any refresh under way at a logout (the
// server's write timeout) and a visit to FusionAuth's logout page.
const logoutMarkerLifetime = 10 * time.Minute

// sessionKeeper starts, opens, checks, refreshes and ends the users'
// sessions, which live in their cookies.
type sessionKeeper struct {
	cookies     *cookieSealer
	client      *oidcClient
	refreshes   *refreshFlights // login_refresh.go
	logger      *slog.Logger
	now         func() time.Time
	idleTimeout time.Duration
	maxLifetime time.Duration
}

// load returns the request's session, checked as every page needs it: open
// (limits and binding, without FusionAuth), not ended by a logout, and an
// access token that passes every check, refreshed if expired (which replaces
// the cookies on w). It returns errLoggedOut after deleting cookies that
// failed; other errors keep the cookies, for the next request to try again.
func (s *sessionKeeper) load(w http.ResponseWriter, r *http.Request) (session, error) {
	record, accessToken, err := s.open(r)
	if errors.Is(err, http.ErrNoCookie) {
		return session{}, errLoggedOut
	} else if err != nil {
		return session{}, s.end(w, err)
	}
	if marker, ok := s.logoutMarker(r); ok && marker.SessionID == record.ID {
		// A refresh under way at the logout has set the cookies again.
		err := s.client.revoke(r.Context(), s.client.discovered.Load(), record.RefreshToken)
		s.logger.Info("revoking a refresh token that arrived after logout", "sub", record.Subject, "revocation", revocationOutcome(err))
		return session{}, s.end(w, errors.New("the session was logged out"))
	}

	p, err := s.client.provider(r.Context())
	if err != nil {
		return session{}, err
	}
	err = s.client.verifyAccessToken(r.Context(), p, accessToken, record.Subject)
	var expired *oidc.TokenExpiredError
	switch {
	case err == nil:
		if now := s.now(); now.Sub(record.SeenAt) >= seenInterval {
			record.SeenAt = now
			s.saveRecord(w, record)
		}
		return record, nil
	case errors.As(err, &expired):
		return s.refresh(w, r, p, record, accessToken)
	case errors.Is(err, errProviderUnavailable):
		return session{}, err
	}
	return session{}, s.end(w, fmt.Errorf("an invalid access token: %w", err))
}

// refresh renews the session's tokens (login_refresh.go) and stores them.
func (s *sessionKeeper) refresh(w http.ResponseWriter, r *http.Request, p *provider, record session, expiredAccessToken string) (session, error) {
	if record.RefreshToken == "" {
		return session{}, s.end(w, errors.New("an expired access token and no refresh token"))
	}
	answer := s.refreshes.redeem(r.Context(), s.client, p, record, expiredAccessToken)
	switch {
	case answer.err == nil:
		record.SeenAt = s.now()
		record, err := s.save(w, record, answer.tokens)
		if err != nil {
			return session{}, s.end(w, fmt.Errorf("refreshed tokens that cannot be stored: %w", err))
		}
		s.logger.Info("refreshed the session", "sub", record.Subject)
		return record, nil
	case errors.Is(answer.err, errProviderUnavailable), errors.Is(answer.err, errRefreshFailed):
		// Under a one-time-use policy the old refresh token is spent: keep
		// the new one, even though the tokens it came with could not be
		// checked now, so that the next request can refresh again.
		if answer.refreshToken != "" && answer.refreshToken != record.RefreshToken {
			record.RefreshToken = answer.refreshToken
			s.saveRecord(w, record)
		}
		return session{}, answer.err
	}
	return session{}, s.end(w, answer.err)
}

// open reads the session's record and access token without calling
// FusionAuth: the record, its limits, and the access token sealed for it. A
// missing record is http.ErrNoCookie.
func (s *sessionKeeper) open(r *http.Request) (record session, accessToken string, err error) {
	if err := s.cookies.open(r, sessionCookie, "", &record); err != nil {
		return session{}, "", err
	}
	if err := s.checkLimits(record, s.now()); err != nil {
		return session{}, "", err
	}
	if err := s.cookies.open(r, accessTokenCookie, record.ID, &accessToken); err != nil {
		// Not %w: only a missing record means "no session"; a record
		// without its access token is a broken one, and ends.
		return session{}, "", fmt.Errorf("a missing access token, or one of another session: %v", err)
	}
	return record, accessToken, nil
}

// checkLimits refuses a session past its lifetime or idle timeout, without
// FusionAuth: a copied or forgotten cookie set stops on time, and a stale one
// costs FusionAuth nothing. A time in the future is refused, not read as fresh.
func (s *sessionKeeper) checkLimits(record session, now time.Time) error {
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

// save stores verified tokens and the session's record in the cookies, and
// returns the record. It seals everything before it sets any cookie, so a
// token too large for a cookie leaves no half-written session behind.
func (s *sessionKeeper) save(w http.ResponseWriter, record session, tokens verifiedTokens) (session, error) {
	record.Subject, record.Email = tokens.subject, tokens.email
	// A refresh answer may lack a refresh token: the session's stays valid.
	if tokens.refreshToken != "" {
		record.RefreshToken = tokens.refreshToken
	}
	access, err := s.cookies.seal(accessTokenCookie, record.ID, tokens.accessToken, 0)
	if err != nil {
		return session{}, err
	}
	id, err := s.cookies.seal(idTokenCookie, record.ID, tokens.idToken, 0)
	if err != nil {
		return session{}, err
	}
	rec, err := s.cookies.seal(sessionCookie, "", record, 0)
	if err != nil {
		return session{}, err
	}
	for _, c := range []*http.Cookie{rec, access, id} {
		http.SetCookie(w, c)
	}
	return record, nil
}

// saveRecord stores the session's record alone: a new last use, or a new
// refresh token.
func (s *sessionKeeper) saveRecord(w http.ResponseWriter, record session) {
	c, err := s.cookies.seal(sessionCookie, "", record, 0)
	if err != nil {
		s.logger.Error("storing the session's record", "err", err)
		return
	}
	http.SetCookie(w, c)
}

// end logs why a session ends, deletes its cookies (and a login in progress)
// and returns errLoggedOut. A logout's marker stays.
func (s *sessionKeeper) end(w http.ResponseWriter, why error) error {
	s.logger.Info("ending the session", "reason", why)
	for _, name := range []string{sessionCookie, accessTokenCookie, idTokenCookie, loginCookie} {
		http.SetCookie(w, s.cookies.expire(name))
	}
	return errLoggedOut
}

// endByLogout ends the session and leaves the marker that stops a refresh
// still under way from bringing it back. Every logout ends sessions here.
func (s *sessionKeeper) endByLogout(w http.ResponseWriter, marker logoutMarker) {
	_ = s.end(w, errors.New("a logout"))
	if marker.SessionID != "" {
		s.refreshes.forget(marker.SessionID)
	}
	marker.ExpiresAt = s.now().Add(logoutMarkerLifetime)
	c, err := s.cookies.seal(logoutCookie, "", marker, logoutMarkerLifetime)
	if err != nil {
		s.logger.Error("sealing the logout marker", "err", err)
		return
	}
	http.SetCookie(w, c)
}

// logoutMarker returns the browser's unexpired logout marker.
func (s *sessionKeeper) logoutMarker(r *http.Request) (logoutMarker, bool) {
	var marker logoutMarker
	if err := s.cookies.open(r, logoutCookie, "", &marker); err != nil || s.now().After(marker.ExpiresAt) {
		return logoutMarker{}, false
	}
	return marker, true
}

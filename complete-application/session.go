package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// A session is four sealed cookies, with no state on the server:
//   - cb_access_token, verified on every request;
//   - cb_refresh_token, to get a new access token when it expires;
//   - cb_user, the few ID token claims the pages use and the session's own
//     clock (login and last use), read on every request;
//   - cb_id_token, the ID token itself, needed only as id_token_hint at logout.
//
// A JWT alone can fill half of the 4096 bytes a browser keeps per cookie,
// which is why the tokens do not share one, and why the claims needed on
// every request sit in a small cookie of their own.
//
// They are browser-session cookies (no Max-Age): closing the browser ends the
// session, and so do the limits in sessionState, whatever FusionAuth would
// still refresh.

// seenInterval is how stale the last-use time may get before a request
// renews it. Renewing on every request would set a cookie on every response;
// once a minute makes the idle timeout at most a minute late.
const seenInterval = time.Minute

// sessionState is the content of cb_user.
type sessionState struct {
	User user
	// StartedAt is the login: the absolute lifetime counts from it, and a
	// refresh does not move it.
	StartedAt time.Time
	// SeenAt is the last request, to within seenInterval: the idle timeout
	// counts from it.
	SeenAt time.Time
}

// cb_user is opened on every request, so it holds a compact record rather
// than JSON, whose decoding was about a third of the session check (2 µs and
// 13 allocations): a format byte, the two times in Unix seconds, then the
// user's subject, email, nonce and audiences, each string as its length and
// its bytes. Numbers are varints, as encoding/binary writes them.
const sessionRecordFormat byte = 1

// encodeSessionState returns cb_user's record for s.
func encodeSessionState(s sessionState) []byte {
	b := []byte{sessionRecordFormat}
	b = binary.AppendVarint(b, s.StartedAt.Unix())
	b = binary.AppendVarint(b, s.SeenAt.Unix())
	for _, field := range []string{s.User.Subject, s.User.Email, s.User.Nonce} {
		b = appendRecordString(b, field)
	}
	b = binary.AppendUvarint(b, uint64(len(s.User.Audience)))
	for _, aud := range s.User.Audience {
		b = appendRecordString(b, aud)
	}
	return b
}

func appendRecordString(b []byte, field string) []byte {
	b = binary.AppendUvarint(b, uint64(len(field)))
	return append(b, field...)
}

// decodeSessionState reads cb_user's record. Anything else, a JSON cb_user
// of an earlier version included, is an error.
func decodeSessionState(record []byte) (sessionState, error) {
	if len(record) == 0 || record[0] != sessionRecordFormat {
		return sessionState{}, fmt.Errorf("not a session record of format %d", sessionRecordFormat)
	}
	r := recordReader{record: record, text: string(record), pos: 1}
	var s sessionState
	s.StartedAt = time.Unix(r.varint(), 0)
	s.SeenAt = time.Unix(r.varint(), 0)
	s.User.Subject = r.string()
	s.User.Email = r.string()
	s.User.Nonce = r.string()
	// Each audience takes at least a byte, which bounds the count before
	// anything is allocated for it.
	if n := r.uvarint(); n > uint64(r.left()) {
		r.err = errMalformedRecord
	} else if n > 0 {
		s.User.Audience = make([]string, n)
		for i := range s.User.Audience {
			s.User.Audience[i] = r.string()
		}
	}
	if r.err == nil && r.left() != 0 {
		r.err = errMalformedRecord
	}
	if r.err != nil {
		return sessionState{}, r.err
	}
	return s, nil
}

var errMalformedRecord = errors.New("malformed session record")

// recordReader reads a record's fields in order. The strings it returns are
// parts of text, one copy of the whole record: one allocation for all of
// them. After the first malformed field, it keeps its error and returns zero
// values.
type recordReader struct {
	record []byte
	text   string
	pos    int
	err    error
}

func (r *recordReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.record[r.pos:])
	if n <= 0 {
		r.err = errMalformedRecord
		return 0
	}
	r.pos += n
	return v
}

func (r *recordReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.record[r.pos:])
	if n <= 0 {
		r.err = errMalformedRecord
		return 0
	}
	r.pos += n
	return v
}

func (r *recordReader) string() string {
	length := r.uvarint()
	if r.err != nil || length > uint64(r.left()) {
		r.err = errMalformedRecord
		return ""
	}
	field := r.text[r.pos : r.pos+int(length)]
	r.pos += int(length)
	return field
}

// left is how many bytes of the record are still to be read.
func (r *recordReader) left() int { return len(r.record) - r.pos }

// readSessionState opens cb_user. A missing cookie is http.ErrNoCookie.
func (a *authenticator) readSessionState(r *http.Request) (sessionState, error) {
	record, err := a.cookies.get(r, userCookie)
	if err != nil {
		return sessionState{}, err
	}
	s, err := decodeSessionState(record)
	if err != nil {
		return sessionState{}, fmt.Errorf("decoding cookie %s: %w", userCookie, err)
	}
	return s, nil
}

// errLoggedOut means the request has no usable session.
var errLoggedOut = errors.New("not logged in")

// startSession stores freshly verified tokens in the session cookies. It
// seals them all before setting any, so a token too large for a cookie
// leaves no half-written session behind.
func (a *authenticator) startSession(w http.ResponseWriter, tokens verifiedTokens, state sessionState) error {
	state.User = tokens.user
	type namedValue struct {
		name  string
		value []byte
	}
	values := []namedValue{
		{accessTokenCookie, []byte(tokens.accessToken)},
		{idTokenCookie, []byte(tokens.idToken)},
		{userCookie, encodeSessionState(state)},
	}
	// A login without offline_access granted has no refresh token; the
	// session then ends when the access token expires.
	if tokens.refreshToken != "" {
		values = append(values, namedValue{refreshTokenCookie, []byte(tokens.refreshToken)})
	}
	cookies := make([]*http.Cookie, 0, len(values))
	for _, v := range values {
		c, err := a.cookies.sealedCookie(v.name, v.value, 0)
		if err != nil {
			return err
		}
		cookies = append(cookies, c)
	}
	for _, c := range cookies {
		setCookie(w, c)
	}
	if tokens.refreshToken == "" {
		// An earlier login's refresh token must not outlive it and renew
		// this one.
		a.cookies.clear(w, refreshTokenCookie)
	}
	return nil
}

// clearSession deletes every cookie of the session, and a login in progress.
// A logout in progress keeps its cookie: FusionAuth's logout page may load
// /logout in an iframe before it sends the browser back with the state.
func (a *authenticator) clearSession(w http.ResponseWriter) {
	for _, name := range []string{accessTokenCookie, refreshTokenCookie, idTokenCookie, userCookie, loginCookie, refreshRetryCookie} {
		a.cookies.clear(w, name)
	}
}

// checkLimits refuses a session past its absolute lifetime or idle timeout.
// It needs no FusionAuth, so a copied or forgotten cookie set stops working
// on time even while FusionAuth would still refresh its tokens, and an
// expired one costs FusionAuth nothing.
func (a *authenticator) checkLimits(s sessionState, now time.Time) error {
	// A cookie without the times (zero) is decades past both limits.
	switch {
	case now.Sub(s.StartedAt) > a.sessionMaxLifetime:
		return fmt.Errorf("the session started more than %s ago", a.sessionMaxLifetime)
	case now.Sub(s.SeenAt) > a.sessionIdleTimeout:
		return fmt.Errorf("the session was idle for more than %s", a.sessionIdleTimeout)
	}
	return nil
}

// loadSession returns the request's user after checking the session's limits
// and verifying the access token locally, refreshing it if it has expired
// (which replaces the cookies on w). It returns errLoggedOut when there is no
// valid session, after deleting any cookies that failed to open or verify;
// errRetryRequest when the request lost a refresh race (see
// retryAfterLostRace); or errProviderUnavailable (or an upstream error) when
// FusionAuth is needed but cannot be reached.
func (a *authenticator) loadSession(w http.ResponseWriter, r *http.Request) (user, error) {
	s, err := a.readSessionState(r)
	if err != nil {
		if !errors.Is(err, http.ErrNoCookie) {
			// Truncated, tampered, foreign or sealed with another key: all
			// the same to us, the user is not logged in.
			a.logger.Info("discarding a session cookie", "err", err)
			a.clearSession(w)
		}
		return user{}, errLoggedOut
	}
	now := a.now()
	if err := a.checkLimits(s, now); err != nil {
		a.logger.Info("ending the session", "sub", s.User.Subject, "reason", err)
		a.clearSession(w)
		return user{}, errLoggedOut
	}

	p, err := a.provider(r.Context())
	if err != nil {
		return user{}, err
	}

	accessToken, err := a.cookies.get(r, accessTokenCookie)
	if errors.Is(err, http.ErrNoCookie) {
		// The browser dropped the access token; the refresh token can
		// still get a new one.
		return a.refreshSession(w, r, p, s)
	}
	if err == nil {
		_, err = a.verifyAccessToken(r.Context(), p, accessToken, s.User.Subject)
	}
	if err == nil {
		if now.Sub(s.SeenAt) >= seenInterval {
			s.SeenAt = now
			a.renewSession(w, s)
		}
		return s.User, nil
	}
	// Declared only once it is needed: errors.As takes its address, which
	// would cost every request an allocation.
	var expired *oidc.TokenExpiredError
	if errors.As(err, &expired) {
		return a.refreshSession(w, r, p, s)
	}
	// Once FusionAuth's keys are cached, an outage does not touch logged-in
	// users. A token that needs a key fetch during an outage (the first one
	// after a key rotation) logs its user out, though.
	a.logger.Info("discarding a session with an invalid access token", "err", err)
	a.clearSession(w)
	return user{}, errLoggedOut
}

// renewSession stores the session's new last use in cb_user.
func (a *authenticator) renewSession(w http.ResponseWriter, s sessionState) {
	c, err := a.cookies.sealedCookie(userCookie, encodeSessionState(s), 0)
	if err != nil {
		a.logger.Error("renewing the session's last use", "err", err)
		return
	}
	setCookie(w, c)
}

type userContextKey struct{}

// userFrom returns the user requireLogin put in the request's context.
func userFrom(ctx context.Context) user {
	u, _ := ctx.Value(userContextKey{}).(user)
	return u
}

// requireLogin lets only logged-in users through to next, with their user
// in the request's context; everyone else goes back to the home page.
func requireLogin(auth *authenticator, pages *pages, next http.Handler) http.Handler {
	// Shared by every response, as Header.Set would allocate it for each one.
	noStoreValue := []string{"no-store"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Pages for one user must never be cached, not even in the browser's history.
		w.Header()["Cache-Control"] = noStoreValue
		u, err := auth.loadSession(w, r)
		switch {
		case err == nil:
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userContextKey{}, u)))
		case errors.Is(err, errLoggedOut):
			http.Redirect(w, r, "/", http.StatusSeeOther)
		case errors.Is(err, errRetryRequest):
			retryRequest(w, r)
		case errors.Is(err, errProviderUnavailable):
			auth.logger.Warn("cannot check the session", "err", err)
			pages.renderError(w, r, http.StatusServiceUnavailable, "Changebank cannot reach FusionAuth to check your login. Please try again shortly.")
		default:
			auth.logger.Warn("cannot refresh the session", "err", err)
			pages.renderError(w, r, http.StatusBadGateway, "FusionAuth did not renew your login. Please try again shortly.")
		}
	})
}

// redirectIfLoggedIn sends logged-in users to target and serves next to
// everyone else, including when their login cannot be checked right now.
func redirectIfLoggedIn(auth *authenticator, target string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := auth.loadSession(w, r)
		switch {
		case err == nil:
			http.Redirect(w, r, target, http.StatusSeeOther)
		case errors.Is(err, errRetryRequest):
			retryRequest(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// retryRequest sends the browser to the same URL again, with the same method
// and body (307), and with whatever cookies it holds by then.
func retryRequest(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, r.URL.RequestURI(), http.StatusTemporaryRedirect)
}

// handleCrossOriginDenied answers a form posted from another site.
func handleCrossOriginDenied(pages *pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.renderError(w, r, http.StatusForbidden, "This form can only be sent from Changebank's own pages.")
	})
}

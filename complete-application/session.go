package main

import (
	"context"
	"encoding/json"
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
	User user `json:"user"`
	// StartedAt is the login: the absolute lifetime counts from it, and a
	// refresh does not move it.
	StartedAt time.Time `json:"started_at"`
	// SeenAt is the last request, to within seenInterval: the idle timeout
	// counts from it.
	SeenAt time.Time `json:"seen_at"`
}

// errLoggedOut means the request has no usable session.
var errLoggedOut = errors.New("not logged in")

// startSession stores freshly verified tokens in the session cookies. It
// seals them all before setting any, so a token too large for a cookie
// leaves no half-written session behind.
func (a *authenticator) startSession(w http.ResponseWriter, tokens verifiedTokens, state sessionState) error {
	state.User = tokens.user
	stateJSON, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("encoding the session: %w", err)
	}
	type namedValue struct {
		name  string
		value []byte
	}
	values := []namedValue{
		{accessTokenCookie, []byte(tokens.accessToken)},
		{idTokenCookie, []byte(tokens.idToken)},
		{userCookie, stateJSON},
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
	var s sessionState
	if err := a.cookies.getJSON(r, userCookie, &s); err != nil {
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
		_, err = a.verifyAccessToken(r.Context(), p, string(accessToken), s.User.Subject)
	}
	var expired *oidc.TokenExpiredError
	switch {
	case err == nil:
		if now.Sub(s.SeenAt) >= seenInterval {
			s.SeenAt = now
			if err := a.cookies.setJSON(w, userCookie, s, 0); err != nil {
				a.logger.Error("renewing the session's last use", "err", err)
			}
		}
		return s.User, nil
	case errors.As(err, &expired):
		return a.refreshSession(w, r, p, s)
	default:
		// Once FusionAuth's keys are cached, an outage does not touch
		// logged-in users. A token that needs a key fetch during an outage
		// (the first one after a key rotation) logs its user out, though.
		a.logger.Info("discarding a session with an invalid access token", "err", err)
		a.clearSession(w)
		return user{}, errLoggedOut
	}
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Pages for one user must never be cached, not even in the browser's history.
		w.Header().Set("Cache-Control", "no-store")
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

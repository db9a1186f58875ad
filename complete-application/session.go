package main

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// A session is three sealed cookies: the access token (checked on every
// request), the refresh token (to get a new access token when it expires)
// and the identity (the ID token and the claims the pages show). Each is a
// separate cookie because a JWT alone can fill half of the 4096 bytes a
// browser keeps per cookie.

// session is the logged-in user, as the pages see it.
type session struct {
	Subject string
	Email   string
}

// errLoggedOut means the request has no usable session.
var errLoggedOut = errors.New("not logged in")

// startSession stores freshly verified tokens in the session cookies.
func (a *authenticator) startSession(w http.ResponseWriter, tokens verifiedTokens) error {
	if err := a.cookies.set(w, accessTokenCookie, []byte(tokens.accessToken), 0); err != nil {
		return err
	}
	if err := a.cookies.setJSON(w, identityCookie, tokens.identity, 0); err != nil {
		return err
	}
	// A login without offline_access granted has no refresh token; the
	// session then ends when the access token expires.
	if tokens.refreshToken != "" {
		return a.cookies.set(w, refreshTokenCookie, []byte(tokens.refreshToken), 0)
	}
	return nil
}

// clearSession deletes every cookie the application sets.
func (a *authenticator) clearSession(w http.ResponseWriter) {
	for _, name := range []string{accessTokenCookie, refreshTokenCookie, identityCookie, loginCookie} {
		a.cookies.clear(w, name)
	}
}

// loadSession returns the request's session after verifying its access token
// locally, refreshing it if it has expired (which replaces the cookies on w).
// It returns errLoggedOut when there is no valid session, after deleting any
// cookies that failed to open or verify, or errProviderUnavailable (or an
// upstream error) when FusionAuth is needed but cannot be reached.
func (a *authenticator) loadSession(w http.ResponseWriter, r *http.Request) (session, error) {
	if !a.cookies.has(r, identityCookie) {
		return session{}, errLoggedOut
	}
	var id identity
	if err := a.cookies.getJSON(r, identityCookie, &id); err != nil {
		// Truncated, tampered, foreign or sealed with another key: all the
		// same to us, the user is not logged in.
		a.logger.Info("discarding a session cookie", "err", err)
		a.clearSession(w)
		return session{}, errLoggedOut
	}

	p, err := a.provider(r.Context())
	if err != nil {
		return session{}, err
	}

	// Without an access token cookie (say the browser dropped it), the
	// refresh token can still get a new one.
	if !a.cookies.has(r, accessTokenCookie) {
		return a.refreshSession(w, r, p, id)
	}
	accessToken, err := a.cookies.get(r, accessTokenCookie)
	if err == nil {
		_, err = a.verifyAccessToken(r.Context(), p, string(accessToken), id.Subject)
	}
	var expired *oidc.TokenExpiredError
	switch {
	case err == nil:
		return session{Subject: id.Subject, Email: id.Email}, nil
	case errors.As(err, &expired):
		return a.refreshSession(w, r, p, id)
	default:
		// Once FusionAuth's keys are cached, an outage does not touch
		// logged-in users. go-oidc reports a failed key fetch like a bad
		// signature, though, so a token that needs a fetch during an
		// outage (the first one after a key rotation) logs its user out.
		a.logger.Info("discarding a session with an invalid access token", "err", err)
		a.clearSession(w)
		return session{}, errLoggedOut
	}
}

// refreshSession gets new tokens with the refresh token, verifies them as
// carefully as at login, and replaces the session cookies.
func (a *authenticator) refreshSession(w http.ResponseWriter, r *http.Request, p *identityProvider, previous identity) (session, error) {
	refreshToken, err := a.cookies.get(r, refreshTokenCookie)
	if err != nil {
		a.clearSession(w)
		return session{}, errLoggedOut
	}

	ctx := a.upstreamContext(r.Context())
	// A token with only a refresh token is invalid, so the token source
	// goes straight to the token endpoint with grant_type=refresh_token.
	token, err := p.oauth2.TokenSource(ctx, &oauth2.Token{RefreshToken: string(refreshToken)}).Token()
	if err != nil {
		var retrieveErr *oauth2.RetrieveError
		if errors.As(err, &retrieveErr) && retrieveErr.ErrorCode == "invalid_grant" {
			// The refresh token expired or was revoked: the session is over.
			a.logger.Info("refresh token refused; ending the session")
			a.clearSession(w)
			return session{}, errLoggedOut
		}
		return session{}, errors.Join(errUpstream, err)
	}

	tokens, err := a.verifyTokenResponse(ctx, p, token, func(nonce string) error {
		// OpenID Connect Core 12.2: a refreshed ID token's nonce, if any,
		// is the one of the original authentication.
		if nonce != "" && !equalSecret(nonce, previous.Nonce) {
			return errors.New("refreshed ID token has a different nonce")
		}
		return nil
	})
	if err == nil && (tokens.identity.Subject != previous.Subject || !slices.Equal(tokens.identity.Audience, previous.Audience)) {
		// The issuer is the same by construction: the verifier accepts no other.
		err = errors.New("refreshed ID token is for another subject or audience")
	}
	if err != nil {
		a.logger.Warn("refusing refreshed tokens; ending the session", "err", err)
		a.clearSession(w)
		return session{}, errLoggedOut
	}

	// FusionAuth sends a new refresh token only under its one-time-use
	// policy; otherwise the one we have stays valid.
	if tokens.refreshToken == "" {
		tokens.refreshToken = string(refreshToken)
	}
	tokens.identity.Nonce = previous.Nonce
	if err := a.startSession(w, tokens); err != nil {
		a.logger.Error("storing the refreshed session", "err", err)
		a.clearSession(w)
		return session{}, errLoggedOut
	}
	a.logger.Info("refreshed the session", "sub", tokens.identity.Subject)
	return session{Subject: tokens.identity.Subject, Email: tokens.identity.Email}, nil
}

// errUpstream means FusionAuth answered a refresh with something other than
// tokens or a clear refusal.
var errUpstream = errors.New("FusionAuth did not answer as expected")

type sessionContextKey struct{}

// sessionFrom returns the session requireLogin put in the request's context.
func sessionFrom(ctx context.Context) session {
	s, _ := ctx.Value(sessionContextKey{}).(session)
	return s
}

// requireLogin lets only logged-in users through to next, with their session
// in the request's context; everyone else goes back to the home page.
func requireLogin(auth *authenticator, pages *pages, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Pages for one user must never be cached, not even in the browser's history.
		w.Header().Set("Cache-Control", "no-store")
		s, err := auth.loadSession(w, r)
		switch {
		case err == nil:
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionContextKey{}, s)))
		case errors.Is(err, errLoggedOut):
			http.Redirect(w, r, "/", http.StatusSeeOther)
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
		if _, err := auth.loadSession(w, r); err == nil {
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// handleCrossOriginDenied answers a form posted from another site.
func handleCrossOriginDenied(pages *pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.renderError(w, r, http.StatusForbidden, "This form can only be sent from Changebank's own pages.")
	})
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// A session is four sealed cookies, with no state on the server:
//   - cb_access_token, verified on every request;
//   - cb_refresh_token, to get a new access token when it expires;
//   - cb_user, the few ID token claims the pages use, read on every request;
//   - cb_id_token, the ID token itself, needed only as id_token_hint at logout.
//
// A JWT alone can fill half of the 4096 bytes a browser keeps per cookie,
// which is why the tokens do not share one, and why the claims needed on
// every request sit in a small cookie of their own.
//
// They are browser-session cookies (no Max-Age): closing the browser ends the
// session, and otherwise the refresh token's lifetime at FusionAuth does.

// errLoggedOut means the request has no usable session.
var errLoggedOut = errors.New("not logged in")

// startSession stores freshly verified tokens in the session cookies. It
// seals them all before setting any, so a token too large for a cookie
// leaves no half-written session behind.
func (a *authenticator) startSession(w http.ResponseWriter, tokens verifiedTokens) error {
	userJSON, err := json.Marshal(tokens.user)
	if err != nil {
		return fmt.Errorf("encoding the user: %w", err)
	}
	type namedValue struct {
		name  string
		value []byte
	}
	values := []namedValue{
		{accessTokenCookie, []byte(tokens.accessToken)},
		{idTokenCookie, []byte(tokens.idToken)},
		{userCookie, userJSON},
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
		http.SetCookie(w, c)
	}
	if tokens.refreshToken == "" {
		// An earlier login's refresh token must not outlive it and renew
		// this one.
		a.cookies.clear(w, refreshTokenCookie)
	}
	return nil
}

// clearSession deletes every cookie the application sets.
func (a *authenticator) clearSession(w http.ResponseWriter) {
	for _, name := range []string{accessTokenCookie, refreshTokenCookie, idTokenCookie, userCookie, loginCookie} {
		a.cookies.clear(w, name)
	}
}

// loadSession returns the request's user after verifying the access token
// locally, refreshing it if it has expired (which replaces the cookies on w).
// It returns errLoggedOut when there is no valid session, after deleting any
// cookies that failed to open or verify, or errProviderUnavailable (or an
// upstream error) when FusionAuth is needed but cannot be reached.
func (a *authenticator) loadSession(w http.ResponseWriter, r *http.Request) (user, error) {
	var u user
	if err := a.cookies.getJSON(r, userCookie, &u); err != nil {
		if !errors.Is(err, http.ErrNoCookie) {
			// Truncated, tampered, foreign or sealed with another key: all
			// the same to us, the user is not logged in.
			a.logger.Info("discarding a session cookie", "err", err)
			a.clearSession(w)
		}
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
		return a.refreshSession(w, r, p, u)
	}
	if err == nil {
		_, err = a.verifyAccessToken(r.Context(), p, string(accessToken), u.Subject)
	}
	var expired *oidc.TokenExpiredError
	switch {
	case err == nil:
		return u, nil
	case errors.As(err, &expired):
		return a.refreshSession(w, r, p, u)
	default:
		// Once FusionAuth's keys are cached, an outage does not touch
		// logged-in users. go-oidc reports a failed key fetch like a bad
		// signature, though, so a token that needs a fetch during an
		// outage (the first one after a key rotation) logs its user out.
		a.logger.Info("discarding a session with an invalid access token", "err", err)
		a.clearSession(w)
		return user{}, errLoggedOut
	}
}

// refreshSession gets new tokens with the refresh token, verifies them as
// carefully as at login, and replaces the session cookies.
func (a *authenticator) refreshSession(w http.ResponseWriter, r *http.Request, p *identityProvider, previous user) (user, error) {
	refreshToken, err := a.cookies.get(r, refreshTokenCookie)
	if err != nil {
		a.clearSession(w)
		return user{}, errLoggedOut
	}
	previousIDToken, err := a.cookies.get(r, idTokenCookie)
	if err != nil {
		a.clearSession(w)
		return user{}, errLoggedOut
	}

	// Without server-side state, parallel requests that find the same
	// expired token each refresh it. FusionAuth's default reusable refresh
	// tokens make that harmless; under its one-time-use policy, all but one
	// of them would get invalid_grant and log the user out.
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
			return user{}, errLoggedOut
		}
		return user{}, errors.Join(errUpstream, err)
	}

	var tokens verifiedTokens
	// Only an absent id_token means an answer without one: an id_token that
	// is there but not a string is malformed, and verifyTokenResponse
	// refuses it. (Extra returns "" for a missing field of a form-encoded
	// answer, nil for a missing JSON field.)
	if idToken := token.Extra("id_token"); idToken == nil || idToken == "" {
		tokens, err = a.verifyAccessOnlyResponse(ctx, p, token, previous, string(previousIDToken))
	} else {
		tokens, err = a.verifyTokenResponse(ctx, p, token, func(nonce string) error {
			// OpenID Connect Core 12.2: a refreshed ID token's nonce, if
			// any, is the one of the original authentication.
			if nonce != "" && !equalSecret(nonce, previous.Nonce) {
				return errors.New("refreshed ID token has a different nonce")
			}
			return nil
		})
	}
	if err == nil && (tokens.user.Subject != previous.Subject || !slices.Equal(tokens.user.Audience, previous.Audience)) {
		// The issuer is the same by construction: the verifier accepts no other.
		err = errors.New("refreshed ID token is for another subject or audience")
	}
	if err != nil {
		a.logger.Warn("refusing refreshed tokens; ending the session", "err", err)
		a.clearSession(w)
		return user{}, errLoggedOut
	}

	// FusionAuth sends a new refresh token only under its one-time-use
	// policy; otherwise the one we have stays valid.
	if tokens.refreshToken == "" {
		tokens.refreshToken = string(refreshToken)
	}
	tokens.user.Nonce = previous.Nonce
	if err := a.startSession(w, tokens); err != nil {
		a.logger.Error("storing the refreshed session", "err", err)
		a.clearSession(w)
		return user{}, errLoggedOut
	}
	a.logger.Info("refreshed the session", "sub", tokens.user.Subject)
	return tokens.user, nil
}

// errUpstream means FusionAuth answered a refresh with something other than
// tokens or a clear refusal.
var errUpstream = errors.New("FusionAuth did not answer as expected")

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

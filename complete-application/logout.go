package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// logoutTransaction is what one logout remembers between POST /logout and
// the browser's return from FusionAuth, in the sealed cb_logout cookie.
type logoutTransaction struct {
	// State ties FusionAuth's answer to this browser's logout.
	State     string    `json:"state"`
	ExpiresAt time.Time `json:"expires_at"`
}

// handleLogout logs the user out of Changebank and then of FusionAuth. It
// answers the account page's logout form; routes.go only lets same-origin
// posts through, so another site cannot log a user out behind their back.
//
// Deleting the cookies only ends this browser's copy of the session, so the
// refresh token is revoked at FusionAuth first: a copy of the cookies taken
// earlier then dies when its access token expires. Then the browser goes to
// FusionAuth's end-session endpoint, which ends FusionAuth's own session, so
// the next person at this computer is not logged in again without a password.
// That happens even without the ID token: client_id is enough to name the
// application, and id_token_hint is only a hint.
func handleLogout(auth *authenticator, pages *pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read what logout needs before the cookies go. The session is read
		// only to name the user in the log.
		s, _ := auth.readSessionState(r)
		idToken, idErr := auth.cookies.get(r, idTokenCookie)
		refreshToken, refreshErr := auth.cookies.get(r, refreshTokenCookie)

		auth.clearSession(w)

		provider, err := auth.provider(r.Context())
		revoked := false
		if err == nil && refreshErr == nil {
			auth.refreshes.forget(string(refreshToken))
			err = auth.revokeRefreshToken(r.Context(), string(refreshToken))
			revoked = err == nil
			if err != nil && !errors.Is(err, errProviderUnavailable) {
				// FusionAuth is there but refused: its session must still end.
				auth.logger.Warn("FusionAuth did not revoke the refresh token", "sub", s.User.Subject, "err", err)
				err = nil
			}
		}
		var endSession *url.URL
		if err == nil {
			endSession, err = url.Parse(provider.endSessionURL)
			if err == nil && provider.endSessionURL == "" {
				err = errors.New("FusionAuth advertises no end_session_endpoint")
			}
		}
		if err != nil {
			auth.logger.Warn("user logged out of Changebank only; FusionAuth could not be reached", "sub", s.User.Subject, "err", err)
			pages.renderError(w, r, http.StatusServiceUnavailable,
				"You are logged out of Changebank. Changebank could not reach FusionAuth, so your FusionAuth session may still be active: "+
					"anyone using this browser might log in again without a password. Close the browser, or log in and out again once FusionAuth is back.")
			return
		}

		tx := logoutTransaction{State: rand.Text(), ExpiresAt: auth.now().Add(loginLifetime)}
		if err := auth.cookies.setJSON(w, logoutCookie, tx, loginLifetime); err != nil {
			auth.logger.Error("setting the logout cookie", "err", err)
		}
		query := endSession.Query()
		query.Set("client_id", auth.clientID)
		if idErr == nil {
			query.Set("id_token_hint", string(idToken))
		}
		query.Set("post_logout_redirect_uri", auth.logoutURL)
		query.Set("state", tx.State)
		endSession.RawQuery = query.Encode()
		auth.logger.Info("user logged out", "sub", s.User.Subject, "refresh_token_revoked", revoked)
		http.Redirect(w, r, endSession.String(), http.StatusSeeOther)
	})
}

// revokeRefreshToken revokes a refresh token with FusionAuth's Logout API,
// which needs no API key: holding the token is the authorization. The token
// goes in a JSON body, which FusionAuth documents besides the query string,
// so that it never appears in a URL, where proxies and access logs keep it.
// It returns an error wrapping errProviderUnavailable when FusionAuth could
// not be reached or failed.
func (a *authenticator) revokeRefreshToken(ctx context.Context, refreshToken string) error {
	body, err := json.Marshal(map[string]any{"global": false, "refreshToken": refreshToken})
	if err != nil {
		return err
	}
	endpoint := strings.TrimSuffix(a.issuer, "/") + "/api/logout"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", errProviderUnavailable, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 500:
		return fmt.Errorf("%w: the Logout API answered %s", errProviderUnavailable, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("the Logout API answered %s", resp.Status)
	}
	return nil
}

// handleFrontChannelLogout is the application's logout URL. FusionAuth sends
// the browser here after ending its own session: as the
// post_logout_redirect_uri, with the state of the logout this browser
// started, and, when another application starts the logout, inside a hidden
// iframe on FusionAuth's logout page (front-channel logout), without it.
// Either way it deletes the session's cookies and needs no session, so anyone
// can log a user out through it but nobody can log anyone in.
//
// With a state, the state must be the one POST /logout sealed into
// cb_logout: only then does Changebank know that its own logout went through
// FusionAuth. A state that does not match still logs out of Changebank, but
// says that FusionAuth's logout cannot be confirmed.
//
// Inside the iframe, a browser applies the deletions only when FusionAuth and
// Changebank are the same site (as on localhost), because the cookies are
// SameSite=Lax. Across sites, a logout Changebank starts still clears them on
// the top-level visit as post_logout_redirect_uri, but one another application
// starts does not: this session then lasts until its limits, or until
// FusionAuth refuses its refresh token.
func handleFrontChannelLogout(auth *authenticator, pages *pages, issuerOrigin string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// FusionAuth's page may frame this response; no other site may.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors "+issuerOrigin)
		w.Header().Del("X-Frame-Options")
		auth.clearSession(w)

		state := r.URL.Query().Get("state")
		if state == "" {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		var tx logoutTransaction
		txErr := auth.cookies.getJSON(r, logoutCookie, &tx)
		auth.cookies.clear(w, logoutCookie)
		if txErr != nil || auth.now().After(tx.ExpiresAt) || !equalSecret(state, tx.State) {
			auth.logger.Warn("logout answer does not match a logout this browser started", "err", txErr)
			pages.renderError(w, r, http.StatusBadRequest,
				"You are logged out of Changebank. This answer from FusionAuth does not belong to a logout you started here, "+
					"so Changebank cannot confirm that your FusionAuth session ended too. To be sure, close the browser.")
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
}

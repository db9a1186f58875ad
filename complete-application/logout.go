package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// logoutTransaction is what a logout remembers in cb_logout: the state that
// ties FusionAuth's answer to this browser's logout, and the session it
// ended. A refresh under way at the logout can still set that session's
// cookies when its answer arrives; the next request then finds the session
// named here, and ends it (sessions.load).
type logoutTransaction struct {
	State     string    `json:"state"`
	SessionID string    `json:"session_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// handleLogout answers the account page's logout form. Deleting the cookies
// ends only this browser's copy of the session, so it revokes the refresh
// token too: a copy of the cookies then dies with its access token. And it
// sends the browser to end FusionAuth's session, so that the next person here
// must enter a password: even without the ID token (client_id names the app),
// and even when the Logout API failed.
func handleLogout(client *oidcClient, sessions *sessions, pages *pages, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record, _ := sessions.read(r)
		idToken, idErr := sessions.cookies.read(r, idTokenCookie, record.ID)
		sessions.clear(w)
		// Not cancelled when the browser goes away: the token must go.
		logoutAPI := client.revoke(context.WithoutCancel(r.Context()), record)

		p, err := client.provider(r.Context())
		if err != nil {
			logger.Warn("user logged out of Changebank only; FusionAuth could not be reached",
				"sub", record.Subject, "logout_api", logoutAPI, "err", err)
			pages.renderError(w, r, http.StatusServiceUnavailable, "You are logged out of Changebank, but it could not reach FusionAuth, "+
				"so anyone using this browser might log in again without a password. Close the browser to be sure.")
			return
		}

		tx := logoutTransaction{State: rand.Text(), SessionID: record.ID, ExpiresAt: client.now().Add(loginLifetime)}
		if err := sessions.cookies.setJSON(w, logoutCookie, tx, loginLifetime); err != nil {
			logger.Error("setting the logout cookie", "err", err)
		}
		endSession := *p.endSession
		query := endSession.Query()
		query.Set("client_id", client.clientID)
		if idErr == nil {
			query.Set("id_token_hint", string(idToken))
		}
		query.Set("post_logout_redirect_uri", client.logoutURL)
		query.Set("state", tx.State)
		endSession.RawQuery = query.Encode()
		logger.Info("user logged out", "sub", record.Subject, "logout_api", logoutAPI)
		http.Redirect(w, r, endSession.String(), http.StatusSeeOther)
	})
}

// revoke revokes the session's refresh token with FusionAuth's Logout API,
// which needs no API key: holding the token is the authorization. The token
// goes in a JSON body, not the query string, so that it never appears in a
// URL, which proxies and access logs keep. It returns the API's answer for
// the log: FusionAuth answers 200 whether or not it found the token, so a 200
// says the call went through, not that a token was revoked.
func (c *oidcClient) revoke(ctx context.Context, record session) string {
	if record.RefreshToken == "" {
		return "not called: no refresh token"
	}
	body, _ := json.Marshal(map[string]any{"global": false, "refreshToken": record.RefreshToken})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.issuer, "/")+"/api/logout", bytes.NewReader(body))
	if err != nil {
		return "not called: " + err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.httpClient.Do(req)
	if err != nil {
		c.logger.Warn("the Logout API could not be called; the refresh token may not be revoked", "sub", record.Subject, "err", err)
		return "failed: " + err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		c.logger.Warn("the Logout API refused; the refresh token may not be revoked", "sub", record.Subject, "status", resp.Status)
	}
	return resp.Status
}

// handleFrontChannelLogout is the app's logout URL, where FusionAuth sends the
// browser after ending its session: with the state of this browser's logout,
// or, for a logout another app started, in a hidden iframe without one (the
// SameSite=Lax cookies come along only when both are the same site, as on
// localhost). It revokes and deletes whatever session the browser has: anyone
// can log a user out through it, nobody in. A state must be cb_logout's, which
// stays until it expires, naming the session that ended.
func handleFrontChannelLogout(client *oidcClient, sessions *sessions, pages *pages, logger *slog.Logger, issuerOrigin string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// FusionAuth's page may frame this response; no other site may.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors "+issuerOrigin)
		w.Header().Del("X-Frame-Options")
		if record, err := sessions.read(r); err == nil {
			// FusionAuth's logout page moves on after two seconds.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 3*time.Second)
			logger.Info("user logged out through FusionAuth", "sub", record.Subject, "logout_api", client.revoke(ctx, record))
			cancel()
		}
		sessions.clear(w)

		state := r.URL.Query().Get("state")
		if state == "" {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		var tx logoutTransaction
		err := sessions.cookies.readJSON(r, logoutCookie, &tx)
		if err != nil || client.now().After(tx.ExpiresAt) || !equalSecret(state, tx.State) {
			logger.Warn("logout answer does not match a logout this browser started", "err", err)
			pages.renderError(w, r, http.StatusBadRequest, "You are logged out of Changebank, but this answer from FusionAuth "+
				"is not for a logout you started here, so your FusionAuth session may not have ended. Close the browser to be sure.")
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
}

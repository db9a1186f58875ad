package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// handleLogout logs the user out of Changebank and then of FusionAuth. It
// answers the account page's logout form; routes.go only lets same-origin
// posts through, so another site cannot log a user out behind their back.
func handleLogout(auth *authenticator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read what logout needs before the cookies go.
		idToken, idErr := auth.cookies.get(r, idTokenCookie)
		refreshToken, refreshErr := auth.cookies.get(r, refreshTokenCookie)

		auth.clearSession(w)

		provider, err := auth.provider(r.Context())
		if err != nil || idErr != nil || provider.endSessionURL == "" {
			// Without FusionAuth, or without a session to end there, the
			// local logout above is all we can do.
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}

		// Ending FusionAuth's SSO session does not revoke the refresh token.
		// RFC 7009 lets a client revoke its own tokens, but FusionAuth does
		// not advertise a revocation endpoint: its way to revoke one is the
		// refresh token API (DELETE /api/jwt/refresh), which needs an API key
		// this application does not and should not have. So the refresh
		// token is revoked only where the provider advertises an endpoint;
		// with FusionAuth it stays valid until it expires, but the browser
		// no longer has it.
		if refreshErr == nil && provider.revocationURL != "" {
			if err := auth.revokeRefreshToken(r.Context(), provider.revocationURL, string(refreshToken)); err != nil {
				auth.logger.Warn("revoking the refresh token", "err", err)
			}
		}

		endSession, err := url.Parse(provider.endSessionURL)
		if err != nil {
			auth.logger.Warn("FusionAuth's end_session_endpoint is not a URL", "err", err)
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		query := endSession.Query()
		query.Set("client_id", auth.clientID)
		query.Set("id_token_hint", string(idToken))
		query.Set("post_logout_redirect_uri", auth.logoutURL)
		// The landing page does the same with or without state (it only
		// clears cookies), but the specification expects one per request.
		query.Set("state", rand.Text())
		endSession.RawQuery = query.Encode()
		auth.logger.Info("user logged out")
		http.Redirect(w, r, endSession.String(), http.StatusSeeOther)
	})
}

// revokeRefreshToken asks the provider to revoke a refresh token (RFC 7009).
func (a *authenticator) revokeRefreshToken(ctx context.Context, endpoint, refreshToken string) error {
	form := url.Values{"token": {refreshToken}, "token_type_hint": {"refresh_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(a.clientID), url.QueryEscape(a.clientSecret))
	resp, err := a.httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revocation endpoint answered %s", resp.Status)
	}
	return nil
}

// handleFrontChannelLogout is the application's logout URL. FusionAuth sends
// the browser here after ending its own session: as the
// post_logout_redirect_uri, and, when another application starts the logout,
// inside a hidden iframe on FusionAuth's logout page (front-channel logout).
// It may run twice and needs no session; it only deletes cookies, so anyone
// can log a user out through it but nobody can log anyone in.
//
// Inside the iframe, a browser applies the deletions only when FusionAuth and
// Changebank are the same site (as on localhost), because the cookies are
// SameSite=Lax. Across sites, a logout Changebank starts still clears them on
// the top-level visit as post_logout_redirect_uri, but one another application
// starts does not: this session then lasts until FusionAuth refuses its
// refresh token, which its logout does not revoke.
func handleFrontChannelLogout(auth *authenticator, issuerOrigin string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// FusionAuth's page may frame this response; no other site may.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors "+issuerOrigin)
		w.Header().Del("X-Frame-Options")
		auth.clearSession(w)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
}

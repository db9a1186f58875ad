package fusionauthtest

import (
	"net/http"
	"slices"
	"strings"
)

// The userinfo endpoint, /oauth2/userinfo.

// handleUserinfo: no bearer token at all is a 401 with no body; a token that
// does not verify, or lacks openid, a 400 with an OAuth error (LIKELY
// userinfo-refusals, FUSIONAUTH.md).
func (s *Server) handleUserinfo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || strings.TrimSpace(raw) == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		c, err := s.verifyPresented(raw, false, true)
		scope, _ := c["scope"].(string)
		sub, _ := c["sub"].(string)
		u := s.users[sub]
		switch {
		case err != nil || u == nil:
			// Malformed, expired, signed by a key the application does not
			// trust, or for a user who is gone (LIKELY userinfo-invalid-token, FUSIONAUTH.md).
			writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_token", "The access token is invalid or expired.", "access_token_invalid"})
			return
		case !slices.Contains(strings.Fields(scope), "openid"):
			// UNCERTAIN userinfo-without-openid (FUSIONAUTH.md).
			writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_token", "The access token does not grant the openid scope.", "missing_required_scope"})
			return
		}
		// Strict scope handling: sub, the tenant, and the scopes' claims
		// (LIKELY userinfo-tid, FUSIONAUTH.md).
		body := claims{"sub": u.id, "tid": s.tenant.id}
		if slices.Contains(strings.Fields(scope), "email") {
			body["email"] = u.email
			body["email_verified"] = u.emailVerified
		}
		if slices.Contains(strings.Fields(scope), "profile") {
			addProfileClaims(body, u)
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, body)
	})
}

package fusionauthtest

import (
	"net/http"
	"slices"
	"strings"
)

// The userinfo endpoint, /oauth2/userinfo.

// handleUserinfo: no bearer token at all is a 401 with no body; a token that
// does not verify (or lacks openid) a 400 with an OAuth error.
func (s *Server) handleUserinfo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || strings.TrimSpace(raw) == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		invalid := func(description string) {
			writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_request", description, "invalid_access_token"})
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		c, err := s.verifyPresented(raw, false, true)
		if err != nil {
			invalid("The access token is invalid or expired.")
			return
		}
		scope, _ := c["scope"].(string)
		sub, _ := c["sub"].(string)
		u := s.users[sub]
		if u == nil || !slices.Contains(strings.Fields(scope), "openid") {
			invalid("The access token does not grant the openid scope.")
			return
		}
		body := claims{"sub": u.id}
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

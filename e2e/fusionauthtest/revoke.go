package fusionauthtest

import "net/http"

// RFC 7009 token revocation, which FusionAuth does not offer: served, and
// advertised by discovery, only under FaultAdvertiseRevocationEndpoint.

// RevocationEndpointPath is where FaultAdvertiseRevocationEndpoint serves
// token revocation. Every call is in Requests(), as POST to this path.
const RevocationEndpointPath = "/oauth2/revoke"

// handleRevoke serves RFC 7009: a POST whose form names the token (and, as a
// hint the stand-in needs not, token_type_hint), from a client authenticated
// as the token endpoint authenticates it. A refresh token of that client is
// revoked; a refresh token of another client is refused. Any other token,
// unknown, expired, already revoked or an access token (a JWT the stand-in
// does not track), answers 200 like a revoked one (RFC 7009 2.2). Without
// the fault the path answers as an unknown path does.
func (s *Server) handleRevoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		on := s.fault(FaultAdvertiseRevocationEndpoint)
		s.mu.Unlock()
		switch {
		case !on:
			http.NotFound(w, r)
			return
		case r.Method != http.MethodPost:
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		if err := r.ParseForm(); err != nil {
			writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_request", "Malformed form.", "unknown"})
			return
		}

		s.mu.Lock()
		defer s.mu.Unlock()
		app, _, ok := s.authenticateClient(w, r)
		if !ok {
			return
		}
		value := r.PostForm.Get("token")
		if value == "" {
			writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_request", "The token parameter is required.", "unknown"})
			return
		}
		if rt, found := s.refreshes[value]; found {
			if rt.clientID != app.id {
				writeOAuthError(w, http.StatusBadRequest, oauthError{"unauthorized_client", "The token was not issued to this client.", "invalid_client_id"})
				return
			}
			s.revokeRefreshTokens(refreshTokenSelector{token: value})
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	})
}

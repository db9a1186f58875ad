package fusionauthtest

import "time"

// Refresh tokens: issued by the code exchange, swapped by a OneTimeUse
// refresh, revoked by the Logout API, DELETE /api/jwt/refresh and, under
// FaultAdvertiseRevocationEndpoint, the revocation endpoint. Every
// revocation goes through revokeRefreshTokens.

type refreshToken struct {
	id        string
	clientID  string
	userID    string
	scope     string
	sessionID string // the SSO session the login came through, "" without one
	authTime  time.Time
	expires   time.Time
}

// storeRefreshToken keeps rt and returns the token string a client presents.
// The caller holds s.mu.
func (s *Server) storeRefreshToken(rt *refreshToken) string {
	value := randomToken()
	s.refreshes[value] = rt
	return value
}

// refreshTokenSelector names the refresh tokens to revoke: the one whose
// string is token; or every one of userID, of applicationID, or of both.
type refreshTokenSelector struct {
	token         string
	userID        string
	applicationID string
}

// revokeRefreshTokens revokes the refresh tokens sel names and returns them.
// An empty selector names none. The caller holds s.mu.
func (s *Server) revokeRefreshTokens(sel refreshTokenSelector) []*refreshToken {
	var revoked []*refreshToken
	switch {
	case sel.token != "":
		if rt, ok := s.refreshes[sel.token]; ok {
			delete(s.refreshes, sel.token)
			revoked = append(revoked, rt)
		}
	case sel.userID != "" || sel.applicationID != "":
		for value, rt := range s.refreshes {
			if (sel.userID == "" || rt.userID == sel.userID) && (sel.applicationID == "" || rt.clientID == sel.applicationID) {
				delete(s.refreshes, value)
				revoked = append(revoked, rt)
			}
		}
	}
	return revoked
}

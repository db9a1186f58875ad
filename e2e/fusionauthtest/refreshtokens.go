package fusionauthtest

import "time"

// Refresh tokens: issued by the code exchange, swapped by a OneTimeUse
// refresh (by any refresh under FaultRefreshTokenReuseDetection), revoked by
// the Logout API, DELETE /api/jwt/refresh, the revocation endpoint (under
// FaultAdvertiseRevocationEndpoint) and the reuse of a swapped one (under
// FaultRefreshTokenReuseDetection). Every revocation goes through
// revokeRefreshTokens.

type refreshToken struct {
	id        string
	clientID  string
	userID    string
	scope     string
	sessionID string // the SSO session the login came through, "" without one
	// family names the code exchange the token comes from. Every token string
	// a rotation derives from it keeps it, so that a reuse can revoke them all.
	family   string
	authTime time.Time
	expires  time.Time
}

// storeRefreshToken keeps rt and returns the token string a client presents.
// The caller holds s.mu.
func (s *Server) storeRefreshToken(rt *refreshToken) string {
	value := randomToken()
	s.refreshes[value] = rt
	return value
}

// rotateRefreshToken gives rt, presented as the string used, a new string:
// the used one is revoked and remembered as used. The record, and so its id
// and family, stays. The caller holds s.mu.
func (s *Server) rotateRefreshToken(used string, rt *refreshToken) string {
	s.revokeRefreshTokens(refreshTokenSelector{token: used})
	s.usedRefreshes[used] = rt
	return s.storeRefreshToken(rt)
}

// refreshTokenSelector names the refresh tokens to revoke: the one whose
// string is token; every one of family; or every one of userID, of
// applicationID, or of both.
type refreshTokenSelector struct {
	token         string
	family        string
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
	case sel.family != "":
		for value, rt := range s.refreshes {
			if rt.family == sel.family {
				delete(s.refreshes, value)
				revoked = append(revoked, rt)
			}
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

package fusionauthtest

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// logoutAPIRequest is what POST /api/logout is told: in the query string, a
// form body or a JSON body.
type logoutAPIRequest struct {
	Global       bool   `json:"global"`
	RefreshToken string `json:"refreshToken"`
}

// handleLogoutAPI serves the Logout API, POST /api/logout. It needs no API key:
// whoever holds a refresh token may revoke it. It revokes the refresh token
// given as refreshToken (or in the refresh_token cookie); with global=true also
// every other refresh token and SSO session of that user. It clears the
// access_token and refresh_token cookies and answers 200 with no body, also
// when there was nothing to revoke.
func (s *Server) handleLogoutAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req logoutAPIRequest
		params := r.URL.Query()
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			data, err := io.ReadAll(io.LimitReader(r.Body, maxRecordedBody))
			if err == nil && len(bytes.TrimSpace(data)) > 0 {
				err = decodeJSON(data, &req)
			}
			if err != nil {
				fieldError(w, "logout", "[invalidJSON]", err.Error())
				return
			}
		} else {
			if err := r.ParseForm(); err != nil {
				fieldError(w, "logout", "[invalid]", "Malformed form.")
				return
			}
			params = r.Form
		}
		// Parameters in the query string (FusionAuth's own clients send them
		// there) or a form fill in what a JSON body left out.
		if req.RefreshToken == "" {
			req.RefreshToken = params.Get("refreshToken")
		}
		if v := params.Get("global"); v != "" {
			req.Global, _ = strconv.ParseBool(v)
		}
		if req.RefreshToken == "" {
			if cookie, err := r.Cookie("refresh_token"); err == nil {
				req.RefreshToken = cookie.Value
			}
		}

		// The refresh token is found whatever X-FusionAuth-TenantId says
		// (LIKELY logout-api-any-tenant, FUSIONAUTH.md).
		s.mu.Lock()
		s.applyLogoutRequest(req)
		s.mu.Unlock()

		for _, name := range []string{"access_token", "refresh_token"} {
			http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0), HttpOnly: true})
		}
		w.WriteHeader(http.StatusOK)
	})
}

// applyLogoutRequest applies one Logout API request: it revokes the
// refresh token and, with global, every other refresh token and SSO session of
// its user. The caller holds s.mu.
func (s *Server) applyLogoutRequest(req logoutAPIRequest) {
	revoked := s.revokeRefreshTokens(refreshTokenSelector{token: req.RefreshToken})
	if !req.Global || len(revoked) == 0 {
		return
	}
	userID := revoked[0].userID
	s.revokeRefreshTokens(refreshTokenSelector{userID: userID})
	for token, session := range s.sessions {
		if session.userID == userID {
			delete(s.sessions, token)
		}
	}
}

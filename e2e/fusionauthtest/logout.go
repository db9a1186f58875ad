package fusionauthtest

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The end-session endpoint, /oauth2/logout, and its "Logging out" page.

// handleLogout ends the SSO session and sends the browser on: through a page
// that loads the other applications' logout URLs (AllApplications) or straight
// (RedirectOnly). An id_token_hint is checked whenever it is given.
func (s *Server) handleLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			renderError(w, http.StatusBadRequest, &oauthError{"invalid_request", "Malformed form.", "unknown"})
			return
		}
		clientID := r.Form.Get("client_id")
		postLogout := r.Form.Get("post_logout_redirect_uri")
		state := r.Form.Get("state")

		s.mu.Lock()
		defer s.mu.Unlock()
		if hint := r.Form.Get("id_token_hint"); hint != "" {
			aud := s.audienceOf(hint)
			if aud == "" || (clientID != "" && clientID != aud) {
				renderError(w, http.StatusBadRequest, &oauthError{"invalid_request", "The id_token_hint is invalid.", "invalid_id_token_hint"})
				return
			}
			clientID = aud
		}
		app := s.apps[clientID]
		if clientID != "" && app == nil {
			renderError(w, http.StatusBadRequest, &oauthError{"invalid_request", "Invalid client_id " + clientID, "invalid_client_id"})
			return
		}
		if postLogout != "" && app != nil && !app.redirectAllowed(postLogout) {
			renderError(w, http.StatusBadRequest, &oauthError{"invalid_request", "The post_logout_redirect_uri is invalid.", "invalid_post_logout_redirect_uri"})
			return
		}

		var sessionID string
		if cookie, err := r.Cookie(ssoCookieName); err == nil {
			if session, ok := s.sessions[cookie.Value]; ok {
				sessionID = session.id
			}
			delete(s.sessions, cookie.Value)
		}
		http.SetCookie(w, &http.Cookie{Name: ssoCookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})

		// Without an application there is nowhere else to go.
		if app == nil {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		target := "/"
		switch {
		case postLogout != "":
			target = postLogout
		case app.oauth.LogoutURL != "":
			target = app.oauth.LogoutURL
		}
		redirect := target
		if state != "" {
			redirect = withQuery(target, "state="+url.QueryEscape(state))
		}
		if app.oauth.LogoutBehavior == "RedirectOnly" {
			http.Redirect(w, r, redirect, http.StatusFound)
			return
		}
		// The meta refresh reaches the target; the others are framed, told
		// whose session ended.
		base := baseURL(r)
		var frames []string
		for _, id := range s.appOrder {
			u := s.apps[id].oauth.LogoutURL
			if strings.HasPrefix(u, "/") {
				u = base + u
			}
			if u == "" || u == target {
				continue
			}
			u = withQuery(u, url.Values{"iss": {s.tenant.issuer()}, "sid": {sessionID}}.Encode())
			if !slices.Contains(frames, u) {
				frames = append(frames, u)
			}
		}
		renderLoggingOut(w, loggingOutPage{Redirect: redirect, LogoutURLs: frames})
	})
}

// audienceOf reads the client id from an ID token this server signed with a
// key the application trusts; an expired hint still names its client, as in
// FusionAuth. The caller holds s.mu.
func (s *Server) audienceOf(idToken string) string {
	c, err := s.verifyPresented(idToken, true, false)
	if err != nil {
		return ""
	}
	return audience(c)
}

func audience(c claims) string {
	switch aud := c["aud"].(type) {
	case string:
		return aud
	case []any:
		if len(aud) > 0 {
			first, _ := aud[0].(string)
			return first
		}
	}
	return ""
}

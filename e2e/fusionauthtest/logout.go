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
// (RedirectOnly). An id_token_hint is checked whenever it is given (LIKELY
// logout-hint-checked, FUSIONAUTH.md).
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
		// The session the hint names, if it names one: the ID token of a
		// login without an SSO session has no sid.
		var hintSID string
		if hint := r.Form.Get("id_token_hint"); hint != "" {
			c := s.idTokenHintClaims(hint)
			aud := audience(c)
			if aud == "" || (clientID != "" && clientID != aud) {
				renderError(w, http.StatusBadRequest, &oauthError{"invalid_request", "The id_token_hint is invalid.", "invalid_id_token_hint"})
				return
			}
			clientID = aud
			hintSID, _ = c["sid"].(string)
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

		if cookie, err := r.Cookie(ssoCookieName); err == nil {
			delete(s.sessions, cookie.Value)
		}
		http.SetCookie(w, &http.Cookie{Name: ssoCookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})

		// Without an application there is nowhere else to go (LIKELY
		// logout-without-client, FUSIONAUTH.md).
		if app == nil {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		issuer := s.tenant.issuer()
		target, query := "/", url.Values{}
		switch {
		case postLogout != "":
			target = postLogout
		case app.oauth.LogoutURL != "":
			// The application's own logout URL is told whose session ended
			// (LIKELY logout-frames-sid, FUSIONAUTH.md).
			target = app.oauth.LogoutURL
			query = sessionEnded(issuer, hintSID)
		}
		if state != "" {
			query.Set("state", state)
		}
		final := target
		if len(query) > 0 {
			final = withQuery(target, encodeInOrder(query, "iss", "sid", "state"))
		}
		if app.oauth.LogoutBehavior == "RedirectOnly" {
			http.Redirect(w, r, final, http.StatusFound)
			return
		}
		renderLoggingOut(w, loggingOutPage{Redirect: final, LogoutURLs: s.logoutFrames(baseURL(r), target, issuer, hintSID)})
	})
}

// logoutFrames are the "Logging out" page's iframes: every application's
// logout URL but the one the page redirects to, which the meta refresh
// reaches (LIKELY logout-frames). The FusionAuth admin application's is loaded
// as it is; the others are told whose session ended when the id_token_hint
// named one (LIKELY logout-frames-sid, FUSIONAUTH.md). The caller holds s.mu.
func (s *Server) logoutFrames(base, target, issuer, sid string) []string {
	var frames []string
	for _, id := range s.appOrder {
		u := s.apps[id].oauth.LogoutURL
		if strings.HasPrefix(u, "/") {
			u = base + u
		}
		if u == "" || u == target {
			continue
		}
		if id != FusionAuthApplicationID && sid != "" {
			u = withQuery(u, encodeInOrder(sessionEnded(issuer, sid), "iss", "sid"))
		}
		if !slices.Contains(frames, u) {
			frames = append(frames, u)
		}
	}
	return frames
}

// sessionEnded is the iss and, when known, sid a logout URL is told.
func sessionEnded(issuer, sid string) url.Values {
	v := url.Values{"iss": {issuer}}
	if sid != "" {
		v.Set("sid", sid)
	}
	return v
}

// encodeInOrder encodes v with its keys in FusionAuth's order, which
// url.Values.Encode would sort.
func encodeInOrder(v url.Values, keys ...string) string {
	var parts []string
	for _, k := range keys {
		if v.Has(k) {
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v.Get(k)))
		}
	}
	return strings.Join(parts, "&")
}

// idTokenHintClaims are the claims of an ID token this server signed with a
// key the application trusts, or nil; an expired hint still names its client
// and session (UNCERTAIN logout-expired-hint, FUSIONAUTH.md). The caller holds s.mu.
func (s *Server) idTokenHintClaims(idToken string) claims {
	c, err := s.verifyPresented(idToken, true, false)
	if err != nil {
		return nil
	}
	return c
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

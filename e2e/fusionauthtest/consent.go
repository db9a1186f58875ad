package fusionauthtest

import (
	"net/http"
	"net/url"
	"time"
)

// What follows a login: the /oauth2/consent redirect every interactive login
// passes through since 1.50, the "Registration Required" page, the code sent to
// the application, and the SSO session "Keep me signed in" starts.

const (
	authorizationCodeLifetime = 30 * time.Second
	ssoCookieName             = "fusionauth.sso"
	// loginCookieName carries a finished login across the consent redirect.
	loginCookieName = "fusionauth.li"
	// ssoCookieMaxAge is FusionAuth's: the cookie outlives any session; the
	// server ends an idle session (httpSessionMaxInactiveInterval).
	ssoCookieMaxAge               = 2147483647
	defaultSessionInactiveSeconds = 3600
	pendingLoginLifetime          = 5 * time.Minute
)

// pendingLogin is a finished login on its way through the consent redirect.
type pendingLogin struct {
	params   authorizeParams
	appID    string
	userID   string
	session  *ssoSession // the SSO session the login came through, or nil
	remember bool        // "Keep me signed in": start an SSO session at consent
	authType string      // authenticationType: PASSWORD, or PING through SSO
	authTime time.Time
	expires  time.Time
}

// authenticated goes on after a login: a user the application requires to be
// registered but who is not goes to the "Registration Required" page, with no
// SSO session; everyone else through the consent redirect. The caller holds s.mu.
func (s *Server) authenticated(w http.ResponseWriter, r *http.Request, app *application, p authorizeParams, u *user, login pendingLogin) {
	if _, registered := u.registrations[app.id]; !registered && app.oauth.RequireRegistration {
		q := url.Values{"client_id": {app.id}, "redirect_uri": {p.RedirectURI}, "state": {p.State}}
		// LIKELY not-registered-page (FUSIONAUTH.md).
		http.Redirect(w, r, "/oauth2/authorized-not-registered?"+q.Encode(), http.StatusFound)
		return
	}
	for token, old := range s.pending {
		if !s.now().Before(old.expires) {
			delete(s.pending, token)
		}
	}
	token := randomToken()
	login.params, login.appID, login.userID = p, app.id, u.id
	login.expires = s.now().Add(pendingLoginLifetime)
	s.pending[token] = &login
	http.SetCookie(w, &http.Cookie{Name: loginCookieName, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	q := url.Values{
		"client_id": {p.ClientID}, "redirect_uri": {p.RedirectURI}, "response_type": {p.ResponseType},
		"scope": {p.Scope}, "state": {p.State},
	}
	http.Redirect(w, r, "/oauth2/consent?"+q.Encode(), http.StatusFound)
}

// handleConsent is the step every interactive login passes through since 1.50.
// A first-party application never shows a consent screen: it starts the SSO
// session ("Keep me signed in") and sends the code to the application.
func (s *Server) handleConsent() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		var login *pendingLogin
		if cookie, err := r.Cookie(loginCookieName); err == nil {
			login = s.pending[cookie.Value]
			delete(s.pending, cookie.Value)
		}
		http.SetCookie(w, &http.Cookie{Name: loginCookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		if login == nil || !s.now().Before(login.expires) || login.params.ClientID != r.URL.Query().Get("client_id") ||
			s.apps[login.appID] == nil || s.users[login.userID] == nil {
			// No login in progress: bad OAuth parameters get the error page,
			// anything else goes back to the start of a login (LIKELY
			// consent-without-login, FUSIONAUTH.md). The code_challenge is not
			// among the consent step's parameters, so PKCE is left to
			// /oauth2/authorize.
			if _, page, _ := s.checkAuthorize(readAuthorizeParams(r.URL.Query())); page != nil {
				renderError(w, http.StatusBadRequest, page)
				return
			}
			http.Redirect(w, r, "/oauth2/authorize?"+r.URL.RawQuery, http.StatusFound)
			return
		}
		app, u := s.apps[login.appID], s.users[login.userID]
		session := login.session
		switch {
		case session != nil:
		case login.remember:
			session = s.startSSOSession(w, u, login.authTime)
		default:
			// No SSO session, so nothing for an ID token's sid to name:
			// LIKELY sid-only-when-named (FUSIONAUTH.md).
			session = &ssoSession{userID: u.id, authTime: login.authTime}
		}
		s.finishLogin(w, r, app, login.params, u, session, login.authType)
	})
}

// handleNotRegistered is the page for a user the application requires to be
// registered.
func (s *Server) handleNotRegistered() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		var name any
		if app := s.apps[r.URL.Query().Get("client_id")]; app != nil {
			name = app.doc["name"]
		}
		s.mu.Unlock()
		renderNotRegistered(w, name)
	})
}

// finishLogin sends an authenticated user back to the application with a code.
// The caller holds s.mu.
func (s *Server) finishLogin(w http.ResponseWriter, r *http.Request, app *application, p authorizeParams, u *user, session *ssoSession, authType string) {
	userState := "Authenticated"
	if _, registered := u.registrations[app.id]; !registered {
		userState = "AuthenticatedNotRegistered"
	}

	if s.fault(FaultCallbackError) {
		// With iss, as FusionAuth's error redirects carry it (LIKELY
		// error-redirect-iss, FUSIONAUTH.md), so that an application reaches
		// its handling of the error itself.
		redirectWithError(w, r, p, &oauthError{"access_denied", errorDescriptionMarkup, "login_prevented"}, s.tenant.issuer())
		return
	}

	code := randomToken()
	now := s.now()
	method := p.CodeChallengeMethod
	if p.CodeChallenge != "" && method == "" {
		method = "S256"
	}
	s.codes[code] = &authorizationCode{
		clientID:      app.id,
		redirectURI:   p.RedirectURI,
		userID:        u.id,
		scope:         p.Scope,
		nonce:         p.Nonce,
		challenge:     p.CodeChallenge,
		challengeMeth: method,
		sessionID:     session.id,
		authTime:      session.authTime,
		authType:      authType,
		expires:       now.Add(authorizationCodeLifetime),
	}

	state, issuer := p.State, s.tenant.issuer()
	if s.fault(FaultCallbackAlteredState) {
		state = wrongState
	}
	if s.fault(FaultCallbackWrongIssuer) {
		issuer = wrongIssuer
	}
	// FusionAuth's parameter order, which url.Values.Encode would sort.
	q := "code=" + url.QueryEscape(code) + "&locale=en"
	if state != "" {
		q += "&state=" + url.QueryEscape(state)
	}
	q += "&userState=" + userState + "&iss=" + url.QueryEscape(issuer)
	http.Redirect(w, r, withQuery(p.RedirectURI, q), http.StatusFound)
}

// ssoSession is the live SSO session the request's fusionauth.sso cookie names,
// or nil; using it restarts its idle clock. The caller holds s.mu.
func (s *Server) ssoSession(r *http.Request) *ssoSession {
	cookie, err := r.Cookie(ssoCookieName)
	if err != nil {
		return nil
	}
	session, ok := s.sessions[cookie.Value]
	if !ok || s.users[session.userID] == nil {
		return nil
	}
	if !s.now().Before(session.lastUsed.Add(s.sessionInactiveLimit())) {
		delete(s.sessions, cookie.Value)
		return nil
	}
	session.lastUsed = s.now()
	return session
}

// sessionInactiveLimit is the tenant's httpSessionMaxInactiveInterval.
func (s *Server) sessionInactiveLimit() time.Duration {
	seconds := s.tenant.httpSessionMaxInactiveInterval
	if seconds <= 0 {
		seconds = defaultSessionInactiveSeconds
	}
	return time.Duration(seconds) * time.Second
}

// startSSOSession sets the fusionauth.sso cookie, persistent as FusionAuth's
// is. The caller holds s.mu.
func (s *Server) startSSOSession(w http.ResponseWriter, u *user, authTime time.Time) *ssoSession {
	token := randomToken()
	session := &ssoSession{id: newUUID(), userID: u.id, authTime: authTime, lastUsed: s.now()}
	s.sessions[token] = session
	http.SetCookie(w, &http.Cookie{Name: ssoCookieName, Value: token, Path: "/", MaxAge: ssoCookieMaxAge, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return session
}

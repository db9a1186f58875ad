package fusionauthtest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// FusionAuth's OAuth 2.0 and OpenID Connect endpoints, as version 1.69 answers them.

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

// supportedScopes are the scopes discovery advertises.
func supportedScopes() []string {
	return []string{"openid", "offline_access", "email", "phone", "profile"}
}

// knownScopes are the scopes Strict scope handling accepts: the advertised
// ones plus OpenID Connect's reserved address scope.
func knownScopes() []string {
	return append(supportedScopes(), "address")
}

// baseURL is the URL the client used to reach the server, X-Forwarded-* first.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if proto := r.Header.Get("X-Forwarded-Proto"); proto != "" {
		scheme = strings.TrimSpace(strings.Split(proto, ",")[0])
	}
	host := r.Host
	if forwarded := r.Header.Get("X-Forwarded-Host"); forwarded != "" {
		host = strings.TrimSpace(strings.Split(forwarded, ",")[0])
		if port := r.Header.Get("X-Forwarded-Port"); port != "" && !strings.Contains(host, ":") &&
			!(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") {
			host += ":" + port
		}
	}
	return scheme + "://" + host
}

// handleDiscovery advertises what FusionAuth advertises, including grants and
// endpoints the stand-in does not serve (this project uses none of them).
func (s *Server) handleDiscovery() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := baseURL(r)
		s.mu.Lock()
		issuer := s.tenant.issuer()
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                         issuer,
			"authorization_endpoint":                         base + "/oauth2/authorize",
			"token_endpoint":                                 base + "/oauth2/token",
			"userinfo_endpoint":                              base + "/oauth2/userinfo",
			"jwks_uri":                                       base + "/.well-known/jwks.json",
			"end_session_endpoint":                           base + "/oauth2/logout",
			"device_authorization_endpoint":                  base + "/oauth2/device_authorize",
			"response_types_supported":                       []string{"code", "id_token", "token id_token"},
			"response_modes_supported":                       []string{"query", "fragment", "form_post"},
			"grant_types_supported":                          []string{"authorization_code", "implicit", "password", "client_credentials", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"},
			"subject_types_supported":                        []string{"public"},
			"id_token_signing_alg_values_supported":          []string{"ES256", "ES384", "ES512", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512"},
			"scopes_supported":                               supportedScopes(),
			"claims_supported":                               []string{"applicationId", "at_hash", "aud", "auth_time", "authenticationType", "birthdate", "c_hash", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss", "jti", "name", "nonce", "roles", "sid", "sub", "tid"},
			"code_challenge_methods_supported":               []string{"S256"},
			"token_endpoint_auth_methods_supported":          []string{"client_secret_basic", "client_secret_post", "none"},
			"authorization_response_iss_parameter_supported": true,
			"frontchannel_logout_supported":                  true,
			"backchannel_logout_supported":                   false,
			"dpop_signing_alg_values_supported":              []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512"},
			"userinfo_signing_alg_values_supported":          []string{"ES256", "ES384", "ES512", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512"},
		})
	})
}

func (s *Server) handleJWKS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		set := s.jwks()
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, set)
	})
}

// authorizeParams are the authorization request's parameters; the login page
// carries them in hidden fields.
type authorizeParams struct {
	ClientID            string
	RedirectURI         string
	ResponseType        string
	Scope               string
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
}

func readAuthorizeParams(v url.Values) authorizeParams {
	return authorizeParams{
		ClientID:            v.Get("client_id"),
		RedirectURI:         v.Get("redirect_uri"),
		ResponseType:        v.Get("response_type"),
		Scope:               v.Get("scope"),
		State:               v.Get("state"),
		Nonce:               v.Get("nonce"),
		CodeChallenge:       v.Get("code_challenge"),
		CodeChallengeMethod: v.Get("code_challenge_method"),
	}
}

// oauthError is FusionAuth's OAuth error body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Reason      string `json:"error_reason"`
}

// checkAuthorize validates an authorization request. A bad client_id or
// redirect_uri is answered with an error page (never a redirect to an
// unverified URL); other errors go back to the redirect_uri. The caller holds s.mu.
func (s *Server) checkAuthorize(p authorizeParams) (app *application, page, redirect *oauthError) {
	switch app = s.apps[p.ClientID]; {
	case p.ClientID == "":
		return nil, &oauthError{"invalid_request", "The request is missing a required parameter: client_id", "missing_client_id"}, nil
	case app == nil:
		return nil, &oauthError{"invalid_client", "Invalid client_id " + p.ClientID, "invalid_client_id"}, nil
	case p.RedirectURI == "":
		return nil, &oauthError{"invalid_request", "The request is missing a required parameter: redirect_uri", "missing_redirect_uri"}, nil
	case !app.redirectAllowed(p.RedirectURI):
		return nil, &oauthError{"invalid_request", "Invalid redirection uri " + p.RedirectURI, "invalid_redirect_uri"}, nil
	case p.ResponseType != "code":
		return app, nil, &oauthError{"unsupported_response_type", "Parameter response_type must be code.", "invalid_response_type"}
	case !app.grantEnabled("authorization_code"):
		return app, nil, &oauthError{"unauthorized_client", "The authorization_code grant is not enabled for this client.", "grant_type_disabled"}
	}
	var unknown []string
	for _, scope := range strings.Fields(p.Scope) {
		if !slices.Contains(knownScopes(), scope) {
			unknown = append(unknown, scope)
		}
	}
	if len(unknown) > 0 {
		return app, nil, &oauthError{"invalid_scope", "Invalid scope. The scopes [" + strings.Join(unknown, ", ") + "] are unknown.", "unknown_scope"}
	}
	// A missing method means S256; plain and malformed challenges get the
	// error page rather than a redirect.
	if p.CodeChallenge != "" && p.CodeChallengeMethod != "" && p.CodeChallengeMethod != "S256" {
		return app, &oauthError{"invalid_request", "The code_challenge_method [" + p.CodeChallengeMethod + "] is not supported.", "invalid_pkce_code_challenge_method"}, nil
	}
	if p.CodeChallenge != "" && !wellFormedChallenge(p.CodeChallenge) {
		return app, &oauthError{"invalid_request", "The code_challenge is malformed.", "invalid_pkce_code_challenge"}, nil
	}
	if p.CodeChallenge == "" && s.pkceRequired(app) {
		return app, nil, &oauthError{"invalid_request", "The request is missing a required parameter: code_challenge", "missing_code_challenge"}
	}
	return app, nil, nil
}

// wellFormedChallenge: an S256 challenge is 43 characters of base64url.
func wellFormedChallenge(challenge string) bool {
	decoded, err := base64.RawURLEncoding.DecodeString(challenge)
	return err == nil && len(challenge) == 43 && len(decoded) == sha256.Size
}

func (s *Server) pkceRequired(app *application) bool {
	switch app.oauth.ProofKeyForCodeExchangePolicy {
	case "Required":
		return true
	case "NotRequiredWhenUsingClientAuthentication":
		return app.oauth.ClientAuthenticationPolicy != "Required"
	}
	return false
}

// authorizeOrRefuse checks an authorization request and, when it is refused,
// answers with the error page or the error redirect. The caller holds s.mu.
func (s *Server) authorizeOrRefuse(w http.ResponseWriter, r *http.Request, p authorizeParams) (*application, bool) {
	app, page, redirect := s.checkAuthorize(p)
	switch {
	case page != nil:
		renderError(w, http.StatusBadRequest, page)
		return nil, false
	case redirect != nil:
		redirectWithError(w, r, p, redirect, s.tenant.issuer())
		return nil, false
	}
	return app, true
}

// redirectWithError sends an OAuth error back to the (already validated) redirect_uri.
// Like a successful answer it carries iss (RFC 9207).
func redirectWithError(w http.ResponseWriter, r *http.Request, p authorizeParams, e *oauthError, issuer string) {
	q := "error=" + url.QueryEscape(e.Error) + "&error_reason=" + url.QueryEscape(e.Reason) +
		"&error_description=" + url.QueryEscape(e.Description)
	if p.State != "" {
		q += "&state=" + url.QueryEscape(p.State)
	}
	q += "&iss=" + url.QueryEscape(issuer)
	http.Redirect(w, r, withQuery(p.RedirectURI, q), http.StatusFound)
}

func withQuery(uri, query string) string {
	if strings.Contains(uri, "?") {
		return uri + "&" + query
	}
	return uri + "?" + query
}

func (s *Server) handleAuthorizeGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := readAuthorizeParams(r.URL.Query())
		s.mu.Lock()
		defer s.mu.Unlock()
		app, ok := s.authorizeOrRefuse(w, r, p)
		if !ok {
			return
		}
		if session := s.ssoSession(r); session != nil {
			s.authenticated(w, r, app, p, s.users[session.userID], pendingLogin{session: session, authType: "PING", authTime: session.authTime})
			return
		}
		renderLogin(w, http.StatusOK, loginPage{Params: p})
	})
}

func (s *Server) handleAuthorizePost() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			renderError(w, http.StatusBadRequest, &oauthError{"invalid_request", "Malformed form.", "invalid_request"})
			return
		}
		p := readAuthorizeParams(r.PostForm)
		s.mu.Lock()
		defer s.mu.Unlock()
		app, ok := s.authorizeOrRefuse(w, r, p)
		if !ok {
			return
		}
		loginID := r.PostForm.Get("loginId")
		u := s.authenticate(loginID, r.PostForm.Get("password"))
		if u == nil {
			renderLogin(w, http.StatusOK, loginPage{Params: p, LoginID: loginID, Error: "Invalid login credentials."})
			return
		}
		remember := r.PostForm.Get("rememberDevice") == "true" || r.PostForm.Get("rememberDevice") == "on"
		s.authenticated(w, r, app, p, u, pendingLogin{remember: remember, authType: "PASSWORD", authTime: s.now()})
	})
}

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
			renderError(w, http.StatusBadRequest, &oauthError{"invalid_request", "There is no login to continue. Start again from the application.", "invalid_request"})
			return
		}
		app, u := s.apps[login.appID], s.users[login.userID]
		session := login.session
		switch {
		case session != nil:
		case login.remember:
			session = s.startSSOSession(w, u, login.authTime)
		default:
			// No SSO session, but the tokens still name one.
			session = &ssoSession{id: newUUID(), userID: u.id, authTime: login.authTime}
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

// authenticate returns the user with this login id and password, or nil. The caller holds s.mu.
func (s *Server) authenticate(loginID, password string) *user {
	for _, u := range s.users {
		if strings.EqualFold(u.email, loginID) &&
			subtle.ConstantTimeCompare([]byte(u.password), []byte(password)) == 1 {
			return u
		}
	}
	return nil
}

// finishLogin sends an authenticated user back to the application with a code.
// The caller holds s.mu.
func (s *Server) finishLogin(w http.ResponseWriter, r *http.Request, app *application, p authorizeParams, u *user, session *ssoSession, authType string) {
	userState := "Authenticated"
	if _, registered := u.registrations[app.id]; !registered {
		userState = "AuthenticatedNotRegistered"
	}

	if s.fault(FaultCallbackError) {
		q := "error=access_denied&error_reason=" + url.QueryEscape("login_prevented") +
			"&error_description=" + url.QueryEscape(errorDescriptionMarkup)
		if p.State != "" {
			q += "&state=" + url.QueryEscape(p.State)
		}
		http.Redirect(w, r, withQuery(p.RedirectURI, q), http.StatusFound)
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

func writeOAuthError(w http.ResponseWriter, status int, e oauthError) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, e)
}

// clientCredentials reads client authentication from the Basic header or the form.
func clientCredentials(r *http.Request) (id, secret string, basic bool) {
	if user, pass, ok := r.BasicAuth(); ok {
		// RFC 6749 2.3.1: both are form-urlencoded before Basic encoding.
		if u, err := url.QueryUnescape(user); err == nil {
			user = u
		}
		if p, err := url.QueryUnescape(pass); err == nil {
			pass = p
		}
		return user, pass, true
	}
	return r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), false
}

func (s *Server) handleToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_request", "Malformed form.", "invalid_request"})
			return
		}
		s.mu.Lock()
		hang := s.fault(FaultTokenEndpointHangs) && r.PostForm.Get("grant_type") == "authorization_code"
		s.mu.Unlock()
		if hang {
			select {
			case <-r.Context().Done():
			case <-s.done:
			}
			return
		}

		s.mu.Lock()
		defer s.mu.Unlock()
		clientID, secret, basic := clientCredentials(r)
		app := s.apps[clientID]
		refuseClient := func(description, reason string) {
			if basic {
				w.Header().Set("WWW-Authenticate", "Basic")
			}
			writeOAuthError(w, http.StatusUnauthorized, oauthError{"invalid_client", description, reason})
		}
		switch {
		case clientID == "" || (app != nil && secret == "" && !clientAuthenticationOptional(app, r.PostForm)):
			refuseClient("Client authentication is required.", "client_authentication_missing")
			return
		case app == nil:
			refuseClient("Invalid client_id "+clientID, "invalid_client_id")
			return
		case secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(app.oauth.ClientSecret)) != 1:
			refuseClient("Invalid client authentication credentials.", "invalid_client_authentication")
			return
		}

		switch grant := r.PostForm.Get("grant_type"); {
		case grant != "authorization_code" && grant != "refresh_token":
			writeOAuthError(w, http.StatusBadRequest, oauthError{"unsupported_grant_type", "Unsupported grant_type [" + grant + "].", "invalid_grant_type"})
		case !app.grantEnabled(grant):
			writeOAuthError(w, http.StatusBadRequest, oauthError{"unauthorized_client", "The grant_type [" + grant + "] is not enabled for this client.", "grant_type_disabled"})
		case grant == "authorization_code":
			s.exchangeCode(w, r, app, basic)
		default:
			s.exchangeRefreshToken(w, r, app)
		}
	})
}

// exchangeCode serves the authorization_code grant. FusionAuth checks what
// needs no code first (a missing verifier, an unauthorized redirect_uri) and
// leaves the code usable; once it has looked the code up, the code is gone,
// and every mismatch answers as an unknown code would. The caller holds s.mu.
func (s *Server) exchangeCode(w http.ResponseWriter, r *http.Request, app *application, basic bool) {
	verifier, redirectURI := r.PostForm.Get("code_verifier"), r.PostForm.Get("redirect_uri")
	switch {
	case verifier == "" && app.oauth.ProofKeyForCodeExchangePolicy == "Required":
		if basic {
			w.Header().Set("WWW-Authenticate", "Basic")
		}
		writeOAuthError(w, http.StatusUnauthorized, oauthError{"invalid_client", "The code_verifier is required.", "missing_code_verifier"})
		return
	case verifier != "" && !wellFormedVerifier(verifier):
		writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_request", "The code_verifier is malformed.", "invalid_pkce_code_verifier"})
		return
	case !app.redirectAllowed(redirectURI):
		writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_grant", "Invalid redirect_uri " + redirectURI, "invalid_redirect_uri"})
		return
	}

	value := r.PostForm.Get("code")
	code, ok := s.codes[value]
	delete(s.codes, value)
	if !ok || code.clientID != app.id || !s.now().Before(code.expires) || redirectURI != code.redirectURI ||
		(code.challenge != "" && !pkceMatches(verifier, code.challenge)) {
		writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_request", "Invalid Authorization Code", "auth_code_not_found"})
		return
	}
	u := s.users[code.userID]
	if u == nil {
		writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_grant", "The user no longer exists.", "invalid_user_id"})
		return
	}

	req := tokenRequest{
		app: app, user: u, scope: code.scope, nonce: code.nonce, sessionID: code.sessionID,
		authTime: code.authTime, authType: code.authType, code: value, grants: []string{"authorization_code"},
	}
	var rt *refreshToken
	var rtValue string
	if slices.Contains(strings.Fields(code.scope), "offline_access") &&
		app.oauth.GenerateRefreshTokens && app.grantEnabled("refresh_token") {
		rt = &refreshToken{
			id: newUUID(), clientID: app.id, userID: u.id, scope: code.scope, sessionID: code.sessionID,
			authTime: code.authTime, authType: code.authType, expires: s.now().Add(s.refreshTimeToLive(app)),
		}
		rtValue = randomToken()
		req.refreshTokenID = rt.id
	}
	body, err := s.tokenResponse(req)
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, oauthError{"server_error", err.Error(), "unknown"})
		return
	}
	if rt != nil {
		s.refreshes[rtValue] = rt
		body["refresh_token"] = rtValue
		body["refresh_token_id"] = rt.id
	}

	switch {
	case s.fault(FaultTokenResponseError):
		body = map[string]any{"error": "server_error", "error_description": "Something went wrong.", "error_reason": "unknown"}
	case s.fault(FaultTokenResponseNoIDToken):
		delete(body, "id_token")
	case s.fault(FaultTokenResponseDPoP):
		body["token_type"] = "DPoP"
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, body)
}

// wellFormedVerifier is RFC 7636's rule: 43 to 128 unreserved characters.
func wellFormedVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range v {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~", c)) {
			return false
		}
	}
	return true
}

// exchangeRefreshToken serves the refresh_token grant. The caller holds s.mu.
func (s *Server) exchangeRefreshToken(w http.ResponseWriter, r *http.Request, app *application) {
	value := r.PostForm.Get("refresh_token")
	rt, ok := s.refreshes[value]
	if !ok || rt.clientID != app.id || !s.now().Before(rt.expires) || s.users[rt.userID] == nil {
		writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_grant", "The refresh token is invalid or expired.", "refresh_token_not_found"})
		return
	}
	// Reusable (the default) answers with the same refresh token; OneTimeUse
	// swaps it for a new one, so the used one is refused from now on.
	if s.refreshTokenUsagePolicy(app) == "OneTimeUse" {
		delete(s.refreshes, value)
		next := *rt
		next.id = newUUID()
		rt, value = &next, randomToken()
		s.refreshes[value] = rt
	}
	body, err := s.tokenResponse(tokenRequest{
		app: app, user: s.users[rt.userID], scope: rt.scope, sessionID: rt.sessionID, authTime: rt.authTime,
		authType: rt.authType, refreshTokenID: rt.id, grants: []string{"authorization_code", "refresh_token"}, refresh: true,
	})
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, oauthError{"server_error", err.Error(), "unknown"})
		return
	}
	body["refresh_token"] = value
	body["refresh_token_id"] = rt.id
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, body)
}

// tokenResponse issues the tokens for req and returns the token endpoint's
// answer without a refresh token: both grants answer with it. The caller holds s.mu.
func (s *Server) tokenResponse(req tokenRequest) (map[string]any, error) {
	access, idToken, err := s.issueTokens(req)
	if err != nil {
		return nil, err
	}
	body := map[string]any{
		"access_token": access,
		"expires_in":   int(s.timeToLive(req.app) / time.Second),
		"scope":        req.scope,
		"token_type":   "Bearer",
		"userId":       req.user.id,
	}
	if idToken != "" {
		body["id_token"] = idToken
	}
	return body, nil
}

// clientAuthenticationOptional applies the application's clientAuthenticationPolicy.
func clientAuthenticationOptional(app *application, form url.Values) bool {
	switch app.oauth.ClientAuthenticationPolicy {
	case "NotRequired":
		return true
	case "NotRequiredWhenUsingPKCE":
		return form.Get("grant_type") == "authorization_code" && form.Get("code_verifier") != ""
	}
	return false
}

// pkceMatches is the S256 check: BASE64URL(SHA256(verifier)) == challenge.
func pkceMatches(verifier, challenge string) bool {
	if verifier == "" {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	computed := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(computed), []byte(challenge)) == 1
}

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

// handleLogout ends the SSO session and sends the browser on: through a page
// that loads the other applications' logout URLs (AllApplications) or straight
// (RedirectOnly). An id_token_hint is checked whenever it is given.
func (s *Server) handleLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			renderError(w, http.StatusBadRequest, &oauthError{"invalid_request", "Malformed form.", "invalid_request"})
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

// randomToken is 256 random bits, base64url: codes, refresh tokens, cookies.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

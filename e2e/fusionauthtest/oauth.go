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
	rememberedSessionLifetime = 30 * 24 * time.Hour
	browserSessionLifetime    = 8 * time.Hour
)

// supportedScopes are the scopes FusionAuth knows; Strict scope handling
// refuses any other.
func supportedScopes() []string {
	return []string{"openid", "offline_access", "email", "phone", "profile"}
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
			"response_types_supported":                       []string{"code", "token", "id_token", "code token", "code id_token", "id_token token", "code id_token token"},
			"response_modes_supported":                       []string{"query", "fragment", "form_post"},
			"grant_types_supported":                          []string{"authorization_code", "implicit", "password", "client_credentials", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"},
			"subject_types_supported":                        []string{"public"},
			"id_token_signing_alg_values_supported":          []string{"ES256", "ES384", "ES512", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512"},
			"scopes_supported":                               supportedScopes(),
			"claims_supported":                               []string{"at_hash", "aud", "auth_time", "birthdate", "c_hash", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss", "jti", "name", "nonce", "sid", "sub"},
			"code_challenge_methods_supported":               []string{"S256"},
			"token_endpoint_auth_methods_supported":          []string{"client_secret_basic", "client_secret_post", "none"},
			"authorization_response_iss_parameter_supported": true,
			"frontchannel_logout_supported":                  true,
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
	for _, scope := range strings.Fields(p.Scope) {
		if !slices.Contains(supportedScopes(), scope) {
			return app, nil, &oauthError{"invalid_scope", "The requested scope [" + scope + "] is not allowed.", "invalid_scope"}
		}
	}
	if p.CodeChallenge != "" && p.CodeChallengeMethod != "S256" {
		return app, nil, &oauthError{"invalid_request", "Parameter code_challenge_method must be S256.", "invalid_pkce_code_challenge_method"}
	}
	if p.CodeChallenge == "" && s.pkceRequired(app) {
		return app, nil, &oauthError{"invalid_request", "The request is missing a required parameter: code_challenge", "missing_code_challenge"}
	}
	return app, nil, nil
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
		redirectWithError(w, r, p, redirect)
		return nil, false
	}
	return app, true
}

// redirectWithError sends an OAuth error back to the (already validated) redirect_uri.
func redirectWithError(w http.ResponseWriter, r *http.Request, p authorizeParams, e *oauthError) {
	q := url.Values{}
	q.Set("error", e.Error)
	q.Set("error_reason", e.Reason)
	q.Set("error_description", e.Description)
	if p.State != "" {
		q.Set("state", p.State)
	}
	http.Redirect(w, r, withQuery(p.RedirectURI, q.Encode()), http.StatusFound)
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
			s.finishLogin(w, r, app, p, s.users[session.userID], session)
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
		session := s.startSSOSession(w, u, remember)
		s.finishLogin(w, r, app, p, u, session)
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

// finishLogin sends an authenticated user back to the application with a code,
// or shows the "not registered" page. The caller holds s.mu.
func (s *Server) finishLogin(w http.ResponseWriter, r *http.Request, app *application, p authorizeParams, u *user, session *ssoSession) {
	// FusionAuth authenticates first and authorizes second: an unregistered user
	// keeps the SSO session but gets no code from an application that requires
	// registration, and userState AuthenticatedNotRegistered from one that does not.
	userState := "Authenticated"
	if _, registered := u.registrations[app.id]; !registered {
		if app.oauth.RequireRegistration {
			renderNotRegistered(w, app.doc["name"])
			return
		}
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
	s.codes[code] = &authorizationCode{
		clientID:      app.id,
		redirectURI:   p.RedirectURI,
		userID:        u.id,
		scope:         p.Scope,
		nonce:         p.Nonce,
		challenge:     p.CodeChallenge,
		challengeMeth: p.CodeChallengeMethod,
		sessionID:     session.id,
		authTime:      session.authTime,
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
// or nil. The caller holds s.mu.
func (s *Server) ssoSession(r *http.Request) *ssoSession {
	cookie, err := r.Cookie(ssoCookieName)
	if err != nil {
		return nil
	}
	session, ok := s.sessions[cookie.Value]
	if !ok || !s.now().Before(session.expires) || s.users[session.userID] == nil {
		return nil
	}
	return session
}

// startSSOSession sets the fusionauth.sso cookie: a browser-session cookie, or
// a lasting one when "Keep me signed in" is checked. The caller holds s.mu.
func (s *Server) startSSOSession(w http.ResponseWriter, u *user, remember bool) *ssoSession {
	now := s.now()
	lifetime := browserSessionLifetime
	if remember {
		lifetime = rememberedSessionLifetime
	}
	token := randomToken()
	session := &ssoSession{id: newUUID(), userID: u.id, authTime: now, expires: now.Add(lifetime)}
	s.sessions[token] = session
	cookie := &http.Cookie{Name: ssoCookieName, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if remember {
		cookie.MaxAge = int(lifetime / time.Second)
	}
	http.SetCookie(w, cookie)
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
		switch {
		case clientID == "":
			writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_request", "The request is missing a required parameter: client_id", "missing_client_id"})
			return
		case app == nil:
			writeOAuthError(w, http.StatusUnauthorized, oauthError{"invalid_client", "Invalid client_id " + clientID, "invalid_client_id"})
			return
		case secret == "" && !clientAuthenticationOptional(app, r.PostForm):
			writeOAuthError(w, http.StatusUnauthorized, oauthError{"invalid_client", "Client authentication is required.", "missing_client_secret"})
			return
		case secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(app.oauth.ClientSecret)) != 1:
			if basic {
				w.Header().Set("WWW-Authenticate", `Basic realm="FusionAuth"`)
			}
			writeOAuthError(w, http.StatusUnauthorized, oauthError{"invalid_client", "Invalid client authentication credentials.", "invalid_client_authentication"})
			return
		}

		switch grant := r.PostForm.Get("grant_type"); {
		case grant != "authorization_code" && grant != "refresh_token":
			writeOAuthError(w, http.StatusBadRequest, oauthError{"unsupported_grant_type", "Unsupported grant_type [" + grant + "].", "invalid_grant_type"})
		case !app.grantEnabled(grant):
			writeOAuthError(w, http.StatusBadRequest, oauthError{"unauthorized_client", "The grant_type [" + grant + "] is not enabled for this client.", "grant_type_disabled"})
		case grant == "authorization_code":
			s.exchangeCode(w, r, app)
		default:
			s.exchangeRefreshToken(w, r, app)
		}
	})
}

// exchangeCode serves the authorization_code grant. The caller holds s.mu.
func (s *Server) exchangeCode(w http.ResponseWriter, r *http.Request, app *application) {
	value := r.PostForm.Get("code")
	code, ok := s.codes[value]
	// A code is single-use: it is gone after the first attempt, right or wrong.
	delete(s.codes, value)
	if !ok || code.clientID != app.id || !s.now().Before(code.expires) {
		writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_grant", "The authorization code is invalid or expired.", "auth_code_not_found"})
		return
	}
	if r.PostForm.Get("redirect_uri") != code.redirectURI {
		writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_request", "Invalid redirection uri " + r.PostForm.Get("redirect_uri"), "invalid_redirect_uri"})
		return
	}
	if code.challenge != "" && !pkceMatches(r.PostForm.Get("code_verifier"), code.challenge) {
		writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_request", "The code_verifier does not match the code_challenge.", "invalid_pkce_code_verifier"})
		return
	}
	u := s.users[code.userID]
	if u == nil {
		writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_grant", "The user no longer exists.", "invalid_user_id"})
		return
	}

	body, err := s.tokenResponse(tokenRequest{app: app, user: u, scope: code.scope, nonce: code.nonce, sessionID: code.sessionID, authTime: code.authTime})
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, oauthError{"server_error", err.Error(), "unknown"})
		return
	}
	if slices.Contains(strings.Fields(code.scope), "offline_access") &&
		app.oauth.GenerateRefreshTokens && app.grantEnabled("refresh_token") {
		rt := &refreshToken{
			id: newUUID(), clientID: app.id, userID: u.id, scope: code.scope,
			sessionID: code.sessionID, authTime: code.authTime, expires: s.now().Add(s.refreshTimeToLive(app)),
		}
		value := randomToken()
		s.refreshes[value] = rt
		body["refresh_token"] = value
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

// exchangeRefreshToken serves the refresh_token grant. The caller holds s.mu.
func (s *Server) exchangeRefreshToken(w http.ResponseWriter, r *http.Request, app *application) {
	rt, ok := s.refreshes[r.PostForm.Get("refresh_token")]
	if !ok || rt.clientID != app.id || !s.now().Before(rt.expires) || s.users[rt.userID] == nil {
		writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_grant", "The refresh token is invalid or expired.", "refresh_token_not_found"})
		return
	}
	body, err := s.tokenResponse(tokenRequest{
		app: app, user: s.users[rt.userID], scope: rt.scope, sessionID: rt.sessionID, authTime: rt.authTime, refresh: true,
	})
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, oauthError{"server_error", err.Error(), "unknown"})
		return
	}
	// Reusable (the default) keeps the refresh token and sends none back;
	// OneTimeUse swaps it for a new one, so the used one is refused from now on.
	if s.refreshTokenUsagePolicy(app) == "OneTimeUse" {
		delete(s.refreshes, r.PostForm.Get("refresh_token"))
		next := *rt
		next.id = newUUID()
		value := randomToken()
		s.refreshes[value] = &next
		body["refresh_token"] = value
		body["refresh_token_id"] = next.id
	}
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

func (s *Server) handleUserinfo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		unauthorized := func(description, reason string) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeOAuthError(w, http.StatusUnauthorized, oauthError{"invalid_token", description, reason})
		}
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || raw == "" {
			unauthorized("The access token is missing.", "access_token_required")
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		c, err := s.verifyToken(raw, true)
		if err != nil {
			unauthorized("The access token is invalid or expired.", "access_token_invalid")
			return
		}
		scope, _ := c["scope"].(string)
		sub, _ := c["sub"].(string)
		u := s.users[sub]
		if u == nil || !slices.Contains(strings.Fields(scope), "openid") {
			unauthorized("The access token does not grant the openid scope.", "access_token_invalid")
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
// that loads every application's logout URL (AllApplications) or straight
// (RedirectOnly).
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
		if clientID == "" {
			if hint := r.Form.Get("id_token_hint"); hint != "" {
				clientID = s.audienceOf(hint)
			}
		}
		app := s.apps[clientID]
		if clientID != "" && app == nil {
			renderError(w, http.StatusBadRequest, &oauthError{"invalid_request", "Invalid client_id " + clientID, "invalid_client_id"})
			return
		}
		target := "/"
		switch {
		case postLogout != "" && (app == nil || !app.redirectAllowed(postLogout)):
			renderError(w, http.StatusBadRequest, &oauthError{"invalid_request", "The post_logout_redirect_uri is invalid.", "invalid_post_logout_redirect_uri"})
			return
		case postLogout != "":
			target = postLogout
		case app != nil && app.oauth.LogoutURL != "":
			target = app.oauth.LogoutURL
		}
		if state != "" {
			target = withQuery(target, "state="+url.QueryEscape(state))
		}

		if cookie, err := r.Cookie(ssoCookieName); err == nil {
			delete(s.sessions, cookie.Value)
		}
		http.SetCookie(w, &http.Cookie{Name: ssoCookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})

		if app != nil && app.oauth.LogoutBehavior == "RedirectOnly" {
			http.Redirect(w, r, target, http.StatusFound)
			return
		}
		var logoutURLs []string
		for _, id := range s.appOrder {
			if u := s.apps[id].oauth.LogoutURL; u != "" && !slices.Contains(logoutURLs, u) {
				logoutURLs = append(logoutURLs, u)
			}
		}
		renderLoggingOut(w, loggingOutPage{Redirect: target, LogoutURLs: logoutURLs})
	})
}

// audienceOf reads the client id from an ID token this server signed; an
// expired hint still names its client, as in FusionAuth. The caller holds s.mu.
func (s *Server) audienceOf(idToken string) string {
	c, err := s.verifyToken(idToken, false)
	if err != nil {
		return ""
	}
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

package fusionauthtest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The token endpoint, /oauth2/token: client authentication, the
// authorization_code grant with PKCE, and the refresh_token grant.

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

// authenticateClient applies the token endpoint's client authentication to
// r, whose form is parsed: the Basic header or the form's client_id and
// client_secret, the secret optional as the application's
// clientAuthenticationPolicy allows. It returns the client, and whether it
// came by Basic; or, having answered 401 invalid_client, ok false. The
// caller holds s.mu.
func (s *Server) authenticateClient(w http.ResponseWriter, r *http.Request) (app *application, basic, ok bool) {
	clientID, secret, basic := clientCredentials(r)
	app = s.apps[clientID]
	refuseClient := func(e oauthError) {
		// A plain Basic challenge (LIKELY www-authenticate-basic, FUSIONAUTH.md).
		if basic {
			w.Header().Set("WWW-Authenticate", "Basic")
		}
		writeOAuthError(w, http.StatusUnauthorized, e)
	}
	switch {
	case clientID == "" || (app != nil && secret == "" && !clientAuthenticationOptional(app, r.PostForm)):
		refuseClient(oauthError{"invalid_client", "Client authentication is required.", "client_authentication_missing"})
		return nil, basic, false
	case app == nil:
		refuseClient(oauthError{"invalid_client", "Invalid client_id " + clientID, "invalid_client_id"})
		return nil, basic, false
	case secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(app.oauth.ClientSecret)) != 1:
		refuseClient(oauthError{"invalid_client", "Invalid client authentication credentials.", "invalid_client_authentication"})
		return nil, basic, false
	}
	return app, basic, true
}

func (s *Server) handleToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_request", "Malformed form.", "unknown"})
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
		app, basic, ok := s.authenticateClient(w, r)
		if !ok {
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
// and every mismatch answers as an unknown code would (LIKELY code-use-up and
// code-refusals, FUSIONAUTH.md). The caller holds s.mu.
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
	if slices.Contains(strings.Fields(code.scope), "offline_access") &&
		app.oauth.GenerateRefreshTokens && app.grantEnabled("refresh_token") {
		rt = &refreshToken{
			id: newUUID(), family: newUUID(), clientID: app.id, userID: u.id, scope: code.scope, sessionID: code.sessionID,
			authTime: code.authTime, expires: s.now().Add(s.refreshTimeToLive(app)),
		}
		req.refreshTokenID = rt.id
	}
	body, err := s.tokenResponse(req)
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, oauthError{"server_error", err.Error(), "unknown"})
		return
	}
	if rt != nil {
		body["refresh_token"] = s.storeRefreshToken(rt)
		body["refresh_token_id"] = rt.id
	}

	w.Header().Set("Cache-Control", "no-store")
	switch {
	case s.fault(FaultTokenResponseError):
		writeJSON(w, http.StatusOK, oauthError{"server_error", "Something went wrong.", "unknown"})
		return
	case s.fault(FaultTokenResponseNoIDToken):
		delete(body, "id_token")
	case s.fault(FaultTokenResponseDPoP):
		body["token_type"] = "DPoP"
	}
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
	reuseDetection := s.fault(FaultRefreshTokenReuseDetection)
	if used, reused := s.usedRefreshes[value]; !ok && reused && reuseDetection && used.clientID == app.id {
		// A used token again: one of its two holders is not its owner, and
		// nobody can tell which, so the whole family goes.
		s.revokeRefreshTokens(refreshTokenSelector{family: used.family})
		writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_grant", "The refresh token was already used; every refresh token of its login is revoked.", "refresh_token_not_found"})
		return
	}
	if !ok || rt.clientID != app.id || !s.now().Before(rt.expires) || s.users[rt.userID] == nil {
		writeOAuthError(w, http.StatusBadRequest, oauthError{"invalid_grant", "The refresh token is invalid or expired.", "refresh_token_not_found"})
		return
	}
	// Reusable (the default) answers with the same refresh token; OneTimeUse
	// swaps the token string, so the used one is refused from now on, and
	// keeps its id, and so the access token's sid (LIKELY one-time-use-keeps-id, FUSIONAUTH.md).
	// FaultRefreshTokenReuseDetection rotates the same way under either policy.
	if s.refreshTokenUsagePolicy(app) == "OneTimeUse" || reuseDetection {
		value = s.rotateRefreshToken(value, rt)
	}
	body, err := s.tokenResponse(tokenRequest{
		app: app, user: s.users[rt.userID], scope: rt.scope, sessionID: rt.sessionID, authTime: rt.authTime,
		// Not the login's type (LIKELY refresh-authentication-type, FUSIONAUTH.md).
		authType:       "REFRESH_TOKEN",
		refreshTokenID: rt.id, grants: []string{"authorization_code", "refresh_token"}, refresh: true,
	})
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, oauthError{"server_error", err.Error(), "unknown"})
		return
	}
	// Both, under either policy (LIKELY refresh-answer-has-token, FUSIONAUTH.md).
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

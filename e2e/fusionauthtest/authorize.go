package fusionauthtest

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The authorization endpoint, /oauth2/authorize: the request's checks, the
// login page and the credentials it posts back.

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

// checkAuthorize validates an authorization request. A bad client_id or
// redirect_uri is answered with an error page (never a redirect to an
// unverified URL); other errors go back to the redirect_uri. The caller holds s.mu.
func (s *Server) checkAuthorize(p authorizeParams) (app *application, page, redirect *oauthError) {
	// A missing redirect_uri is named before anything about the client:
	// LIKELY authorize-param-checks (FUSIONAUTH.md).
	switch app = s.apps[p.ClientID]; {
	case p.RedirectURI == "":
		return nil, &oauthError{"invalid_request", "The request is missing a required parameter: redirect_uri", "missing_redirect_uri"}, nil
	case p.ClientID == "":
		return nil, &oauthError{"invalid_request", "The request is missing a required parameter: client_id", "missing_client_id"}, nil
	case app == nil:
		return nil, &oauthError{"invalid_client", "Invalid client_id " + p.ClientID, "invalid_client_id"}, nil
	case !app.redirectAllowed(p.RedirectURI):
		return nil, &oauthError{"invalid_request", "Invalid redirection uri " + p.RedirectURI, "invalid_redirect_uri"}, nil
	case p.ResponseType == "":
		// LIKELY authorize-param-checks (FUSIONAUTH.md).
		return app, nil, &oauthError{"invalid_request", "The request is missing a required parameter: response_type", "missing_response_type"}
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
	// A missing method means S256 (LIKELY challenge-method-default); plain and
	// malformed challenges get the error page rather than a redirect (LIKELY
	// pkce-challenge-refusal, FUSIONAUTH.md).
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

// wellFormedChallenge is RFC 7636's rule for a code_challenge, the same as for
// a verifier: 43 to 128 unreserved characters (RFC 7636; for FusionAuth,
// LIKELY authorize-param-checks, FUSIONAUTH.md). An S256 challenge is always 43.
func wellFormedChallenge(challenge string) bool {
	return wellFormedVerifier(challenge)
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
			// LIKELY sso-login-ping (FUSIONAUTH.md).
			s.authenticated(w, r, app, p, s.users[session.userID], pendingLogin{session: session, authType: "PING", authTime: session.authTime})
			return
		}
		renderLogin(w, http.StatusOK, loginPage{Params: p})
	})
}

func (s *Server) handleAuthorizePost() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			renderError(w, http.StatusBadRequest, &oauthError{"invalid_request", "Malformed form.", "unknown"})
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

package fusionauthtest

import (
	"net/http"
	"strings"
)

// Discovery and the key set: what a client reads before it sends anyone to log in.

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
		revocation := s.fault(FaultAdvertiseRevocationEndpoint)
		s.mu.Unlock()
		doc := map[string]any{
			"issuer":                                issuer,
			"authorization_endpoint":                base + "/oauth2/authorize",
			"token_endpoint":                        base + "/oauth2/token",
			"userinfo_endpoint":                     base + "/oauth2/userinfo",
			"jwks_uri":                              base + "/.well-known/jwks.json",
			"end_session_endpoint":                  base + "/oauth2/logout",
			"device_authorization_endpoint":         base + "/oauth2/device_authorize",
			"response_types_supported":              []string{"code", "id_token", "token id_token"},
			"response_modes_supported":              []string{"query", "fragment", "form_post"},
			"grant_types_supported":                 []string{"authorization_code", "implicit", "password", "client_credentials", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"ES256", "ES384", "ES512", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512"},
			"scopes_supported":                      supportedScopes(),
			// UNCERTAIN discovery-claims (FUSIONAUTH.md): no sid, tid or
			// auth_time, although the tokens carry them.
			"claims_supported":                      []string{"applicationId", "at_hash", "aud", "authenticationType", "birthdate", "c_hash", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss", "jti", "middle_name", "name", "nbf", "nonce", "phone_number", "picture", "preferred_username", "roles", "sub"},
			"code_challenge_methods_supported":      []string{"S256"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
			// UNCERTAIN iss-parameter-advertised (FUSIONAUTH.md).
			"authorization_response_iss_parameter_supported": true,
			"frontchannel_logout_supported":                  true,
			"backchannel_logout_supported":                   false,
			"dpop_signing_alg_values_supported":              []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512"},
			"userinfo_signing_alg_values_supported":          []string{"ES256", "ES384", "ES512", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512"},
		}
		// FusionAuth advertises no revocation endpoint; the fault adds one,
		// which authenticates clients as the token endpoint does.
		if revocation {
			doc["revocation_endpoint"] = base + RevocationEndpointPath
			doc["revocation_endpoint_auth_methods_supported"] = doc["token_endpoint_auth_methods_supported"]
		}
		writeJSON(w, http.StatusOK, doc)
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

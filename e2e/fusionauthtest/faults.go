package fusionauthtest

// Fault is one way the stand-in misbehaves on purpose, for the relying-party
// tests the OpenID Foundation runs. InjectFault turns one on until ClearFaults;
// a table-driven test injects one fault per case.
type Fault int

// Faults on the ID token returned by the authorization_code grant.
const (
	FaultIDTokenWrongIssuer          Fault = iota + 1 // iss is another issuer
	FaultIDTokenMissingIssuer                         // no iss
	FaultIDTokenWrongAudience                         // aud is another client id
	FaultIDTokenExtraAudience                         // aud is [client id, an untrusted client]
	FaultIDTokenMissingAudience                       // no aud
	FaultIDTokenWrongAuthorizedParty                  // azp is another client id
	FaultIDTokenMissingSubject                        // no sub
	FaultIDTokenMissingIssuedAt                       // no iat
	FaultIDTokenIssuedLongAgo                         // iat a week ago (exp still in the future)
	FaultIDTokenIssuedInFuture                        // iat an hour from now
	FaultIDTokenExpired                               // exp a minute ago
	FaultIDTokenMissingExpiry                         // no exp
	FaultIDTokenWrongNonce                            // nonce is not the one sent
	FaultIDTokenMissingNonce                          // no nonce
	FaultIDTokenBadSignature                          // one byte of the signature changed
	FaultIDTokenAlgNone                               // header alg "none", empty signature
	FaultIDTokenHS256ClientSecret                     // HS256, keyed with the client secret
	FaultIDTokenUnknownKey                            // signed by a key JWKS never publishes (one per Server, made by InjectFault)
)

// Faults on the token endpoint's answer to the authorization_code grant.
const (
	FaultTokenResponseError     Fault = iota + 100 // 200 OK with {"error":"server_error",…}
	FaultTokenResponseNoIDToken                    // no id_token
	FaultTokenResponseDPoP                         // token_type "DPoP"
	FaultTokenEndpointHangs                        // authorization_code grant: no answer until the client gives up or Close
)

// Faults on the redirect back to the application after login (or SSO).
const (
	FaultCallbackAlteredState Fault = iota + 200 // state is not the one sent
	FaultCallbackWrongIssuer                     // iss is another issuer
	FaultCallbackError                           // error=access_denied, markup in error_description, no code
)

// Faults on the ID token returned by the refresh_token grant.
const (
	FaultRefreshIDTokenWrongIssuer   Fault = iota + 300 // iss differs from the first ID token's
	FaultRefreshIDTokenWrongSubject                     // sub differs
	FaultRefreshIDTokenWrongAudience                    // aud differs
)

// Faults that add what FusionAuth does not do, as other providers do. They
// are off by default, so that the stand-in answers as FusionAuth does.
const (
	// Discovery advertises revocation_endpoint (and
	// revocation_endpoint_auth_methods_supported), and RevocationEndpointPath
	// serves RFC 7009 token revocation; without the fault it is an unknown path.
	FaultAdvertiseRevocationEndpoint Fault = iota + 400
	// The refresh_token grant rotates refresh tokens under either usage
	// policy, as OneTimeUse does, and a refresh token presented again after a
	// rotation replaced it revokes every refresh token of its login (the
	// newest included) and is refused with invalid_grant. No grace period.
	FaultRefreshTokenReuseDetection
)

// AllFaults lists every fault, for tests that loop over them.
func AllFaults() []Fault {
	return []Fault{
		FaultIDTokenWrongIssuer, FaultIDTokenMissingIssuer, FaultIDTokenWrongAudience,
		FaultIDTokenExtraAudience, FaultIDTokenMissingAudience, FaultIDTokenWrongAuthorizedParty,
		FaultIDTokenMissingSubject, FaultIDTokenMissingIssuedAt, FaultIDTokenIssuedLongAgo,
		FaultIDTokenIssuedInFuture, FaultIDTokenExpired, FaultIDTokenMissingExpiry,
		FaultIDTokenWrongNonce, FaultIDTokenMissingNonce, FaultIDTokenBadSignature,
		FaultIDTokenAlgNone, FaultIDTokenHS256ClientSecret, FaultIDTokenUnknownKey,
		FaultTokenResponseError, FaultTokenResponseNoIDToken, FaultTokenResponseDPoP,
		FaultTokenEndpointHangs,
		FaultCallbackAlteredState, FaultCallbackWrongIssuer, FaultCallbackError,
		FaultRefreshIDTokenWrongIssuer, FaultRefreshIDTokenWrongSubject, FaultRefreshIDTokenWrongAudience,
		FaultAdvertiseRevocationEndpoint, FaultRefreshTokenReuseDetection,
	}
}

// String names the fault as its constant does.
func (f Fault) String() string {
	names := map[Fault]string{
		FaultIDTokenWrongIssuer:          "FaultIDTokenWrongIssuer",
		FaultIDTokenMissingIssuer:        "FaultIDTokenMissingIssuer",
		FaultIDTokenWrongAudience:        "FaultIDTokenWrongAudience",
		FaultIDTokenExtraAudience:        "FaultIDTokenExtraAudience",
		FaultIDTokenMissingAudience:      "FaultIDTokenMissingAudience",
		FaultIDTokenWrongAuthorizedParty: "FaultIDTokenWrongAuthorizedParty",
		FaultIDTokenMissingSubject:       "FaultIDTokenMissingSubject",
		FaultIDTokenMissingIssuedAt:      "FaultIDTokenMissingIssuedAt",
		FaultIDTokenIssuedLongAgo:        "FaultIDTokenIssuedLongAgo",
		FaultIDTokenIssuedInFuture:       "FaultIDTokenIssuedInFuture",
		FaultIDTokenExpired:              "FaultIDTokenExpired",
		FaultIDTokenMissingExpiry:        "FaultIDTokenMissingExpiry",
		FaultIDTokenWrongNonce:           "FaultIDTokenWrongNonce",
		FaultIDTokenMissingNonce:         "FaultIDTokenMissingNonce",
		FaultIDTokenBadSignature:         "FaultIDTokenBadSignature",
		FaultIDTokenAlgNone:              "FaultIDTokenAlgNone",
		FaultIDTokenHS256ClientSecret:    "FaultIDTokenHS256ClientSecret",
		FaultIDTokenUnknownKey:           "FaultIDTokenUnknownKey",
		FaultTokenResponseError:          "FaultTokenResponseError",
		FaultTokenResponseNoIDToken:      "FaultTokenResponseNoIDToken",
		FaultTokenResponseDPoP:           "FaultTokenResponseDPoP",
		FaultTokenEndpointHangs:          "FaultTokenEndpointHangs",
		FaultCallbackAlteredState:        "FaultCallbackAlteredState",
		FaultCallbackWrongIssuer:         "FaultCallbackWrongIssuer",
		FaultCallbackError:               "FaultCallbackError",
		FaultRefreshIDTokenWrongIssuer:   "FaultRefreshIDTokenWrongIssuer",
		FaultRefreshIDTokenWrongSubject:  "FaultRefreshIDTokenWrongSubject",
		FaultRefreshIDTokenWrongAudience: "FaultRefreshIDTokenWrongAudience",
		FaultAdvertiseRevocationEndpoint: "FaultAdvertiseRevocationEndpoint",
		FaultRefreshTokenReuseDetection:  "FaultRefreshTokenReuseDetection",
	}
	if name, ok := names[f]; ok {
		return name
	}
	return "Fault(unknown)"
}

// InjectFault turns f on; it stays on until ClearFaults.
func (s *Server) InjectFault(f Fault) {
	if f == FaultIDTokenUnknownKey {
		// The key is made here, in the test's own time, not while a client
		// waits for its token under a timeout.
		_, _ = s.unknownSigningKey()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[f] = true
}

// ClearFaults turns every fault off: the stand-in behaves again.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// fault reports whether f is on; the caller holds s.mu.
func (s *Server) fault(f Fault) bool {
	return s.faults[f]
}

// Values the faults use: never a real issuer or client.
const (
	wrongIssuer   = "https://evil.example.com"
	wrongClientID = "00000000-0000-4000-8000-0000000e7111"
	wrongSubject  = "00000000-0000-4000-8000-00000000bad5"
	wrongNonce    = "not-the-nonce-you-sent"
	wrongState    = "not-the-state-you-sent"
	// errorDescriptionMarkup checks that an application escapes what it shows.
	errorDescriptionMarkup = `<script>alert("error_description")</script><b>bold</b>`
)

package fusionauthtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// claims is a JWT payload. A map, because FusionAuth's tokens carry many
// non-registered claims and the faults remove or replace any of them.
type claims map[string]any

// sign serializes c as a compact JWS signed with key. The header carries the
// key's kid property, not its id.
func sign(key *signingKey, c claims) (string, error) {
	var material any
	switch {
	case key.rsa != nil:
		material = key.rsa
	case key.secret != nil:
		material = key.secret
	default:
		return "", fmt.Errorf("key %s has no key material", key.id)
	}
	signingKey := jose.SigningKey{
		Algorithm: jose.SignatureAlgorithm(key.algorithm),
		Key:       jose.JSONWebKey{Key: material, KeyID: key.kid},
	}
	signer, err := jose.NewSigner(signingKey, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("signer for key %s: %w", key.id, err)
	}
	token, err := jwt.Signed(signer).Claims(map[string]any(c)).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign with key %s: %w", key.id, err)
	}
	return token, nil
}

// keyByKid finds a key by its kid property. The caller holds s.mu.
func (s *Server) keyByKid(kid string) *signingKey {
	for _, key := range s.keys {
		if key.kid == kid {
			return key
		}
	}
	return nil
}

// verifyPresented checks a token presented back to FusionAuth (userinfo,
// id_token_hint): signature, issuer and, when checkExpiry is set, expiry. As
// in 1.69, the key must be the audience application's own signing key for
// that kind of token or one of its listed verification keys, so that after a
// rotation an old token is refused unless its key is listed. The caller holds s.mu.
func (s *Server) verifyPresented(raw string, idToken, checkExpiry bool) (claims, error) {
	token, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{
		jose.RS256, jose.RS384, jose.RS512, jose.HS256, jose.HS384, jose.HS512,
	})
	if err != nil {
		return nil, err
	}
	if len(token.Headers) != 1 {
		return nil, errors.New("token has no single signature")
	}
	key := s.keyByKid(token.Headers[0].KeyID)
	if key == nil {
		return nil, errors.New("unknown key id")
	}
	var verifyWith any = key.secret
	if key.rsa != nil {
		verifyWith = &key.rsa.PublicKey
	}
	var c claims
	var registered jwt.Claims
	if err := token.Claims(verifyWith, &c, &registered); err != nil {
		return nil, err
	}
	if registered.Issuer != s.tenant.issuer() {
		return nil, jwt.ErrInvalidIssuer
	}
	if checkExpiry {
		if err := registered.ValidateWithLeeway(jwt.Expected{Time: s.now()}, 0); err != nil {
			return nil, err
		}
	}
	app := s.apps[audience(c)]
	if app == nil {
		return nil, errors.New("the token's audience is no application")
	}
	if !s.trustsKey(app, key.id, idToken) {
		return nil, errors.New("the token's key is not one the application verifies with")
	}
	return c, nil
}

// trustsKey: the application's signing key for that kind of token, or one of
// its verification keys. The caller holds s.mu.
func (s *Server) trustsKey(app *application, keyID string, idToken bool) bool {
	signing, err := s.tokenKey(app, idToken)
	if err == nil && signing.id == keyID {
		return true
	}
	listed := app.jwt.AccessTokenVerificationKeyIDs
	if idToken {
		listed = app.jwt.IDTokenVerificationKeyIDs
	}
	return slices.Contains(listed, keyID)
}

// jwks is the public half of every asymmetric key; HMAC keys are never published.
func (s *Server) jwks() jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	ids := make([]string, 0, len(s.keys))
	for id := range s.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		key := s.keys[id]
		if key.rsa == nil {
			continue
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{
			Key:       &key.rsa.PublicKey,
			KeyID:     key.kid,
			Algorithm: key.algorithm,
			Use:       "sig",
		})
	}
	return set
}

// RotateKey makes a new RS256 key and signs the ID and access tokens of every
// application that signed with an RSA key with it from now on. The old key stays
// in JWKS, as it does in FusionAuth until someone deletes it, so a client still
// verifies tokens already issued; the stand-in itself, like FusionAuth 1.69,
// accepts them back (userinfo, id_token_hint) only if the application lists the
// old key among its verification keys. It returns the new key's id.
func (s *Server) RotateKey() (string, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("rotate key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := newUUID()
	s.keys[id] = &signingKey{id: id, kid: newKid(), algorithm: "RS256", name: "Rotated key", rsa: priv}
	for _, app := range s.apps {
		if !app.jwt.Enabled {
			continue
		}
		patch := map[string]any{}
		if k := s.keys[app.jwt.AccessTokenKeyID]; k != nil && k.rsa != nil {
			patch["accessTokenKeyId"] = id
		}
		if k := s.keys[app.jwt.IDTokenKeyID]; k != nil && k.rsa != nil {
			patch["idTokenKeyId"] = id
		}
		mergePatch(app.doc, map[string]any{"jwtConfiguration": patch})
		if err := app.refresh(); err != nil {
			return "", fmt.Errorf("rotate key: %w", err)
		}
	}
	return id, nil
}

// tokenRequest is what an access and ID token pair is made from.
type tokenRequest struct {
	app            *application
	user           *user
	scope          string
	nonce          string
	sessionID      string // the SSO session, "" without one: the ID token's sid
	refreshTokenID string // the access token's sid, when there is a refresh token
	authTime       time.Time
	authType       string   // PASSWORD, PING through an SSO session, or REFRESH_TOKEN
	code           string   // the authorization code, for c_hash
	grants         []string // gty: the grant types behind the token
	refresh        bool     // the refresh_token grant, not authorization_code
}

// issueTokens makes the access token and, with scope openid, the ID token, shaped
// as FusionAuth shapes them. Faults change the ID token. The caller holds s.mu.
func (s *Server) issueTokens(req tokenRequest) (accessToken, idToken string, err error) {
	now := s.now()
	ttl := s.timeToLive(req.app)
	authType := req.authType
	if authType == "" {
		authType = "PASSWORD"
	}
	common := claims{
		"aud":                req.app.id,
		"exp":                now.Add(ttl).Unix(),
		"iat":                now.Unix(),
		"iss":                s.tenant.issuer(),
		"sub":                req.user.id,
		"jti":                newUUID(),
		"auth_time":          req.authTime.Unix(),
		"authenticationType": authType,
		"tid":                s.tenant.id,
		"scope":              req.scope,
		// In the payload, as in 1.69; older versions put gty in the JWT header
		// (LIKELY gty-in-payload, FUSIONAUTH.md).
		"gty": req.grants,
	}

	access := maps.Clone(common)
	// The access token's sid is the refresh token's id, and there is none
	// without a refresh token (LIKELY sid-only-when-named, FUSIONAUTH.md).
	if req.refreshTokenID != "" {
		access["sid"] = req.refreshTokenID
	}
	if roles, registered := req.user.registrations[req.app.id]; registered {
		access["applicationId"] = req.app.id
		access["roles"] = roles
	}
	accessKey, err := s.tokenKey(req.app, false)
	if err != nil {
		return "", "", err
	}
	if accessToken, err = sign(accessKey, access); err != nil {
		return "", "", err
	}

	scopes := strings.Fields(req.scope)
	if !slices.Contains(scopes, "openid") {
		return accessToken, "", nil
	}
	id := maps.Clone(common)
	id["jti"] = newUUID()
	// The ID token's sid is the SSO session's, and there is none without an
	// SSO session (LIKELY sid-only-when-named, FUSIONAUTH.md).
	if req.sessionID != "" {
		id["sid"] = req.sessionID
	}
	id["at_hash"] = leftHalfHash(accessToken)
	if req.code != "" {
		id["c_hash"] = leftHalfHash(req.code)
	}
	if req.nonce != "" {
		id["nonce"] = req.nonce
	}
	if slices.Contains(scopes, "email") {
		id["email"] = req.user.email
		id["email_verified"] = req.user.emailVerified
	}
	if slices.Contains(scopes, "profile") {
		addProfileClaims(id, req.user)
	}
	idKey, err := s.tokenKey(req.app, true)
	if err != nil {
		return "", "", err
	}
	idToken, err = s.signIDToken(idKey, id, req)
	return accessToken, idToken, err
}

func addProfileClaims(c claims, u *user) {
	if u.firstName != "" {
		c["given_name"] = u.firstName
	}
	if u.lastName != "" {
		c["family_name"] = u.lastName
	}
	if name := strings.TrimSpace(u.firstName + " " + u.lastName); name != "" {
		c["name"] = name
	}
	if u.birthDate != "" {
		c["birthdate"] = u.birthDate
	}
}

// signIDToken applies the faults that are on, then signs. The caller holds s.mu.
func (s *Server) signIDToken(key *signingKey, c claims, req tokenRequest) (string, error) {
	now := s.now()
	if req.refresh {
		switch {
		case s.fault(FaultRefreshIDTokenWrongIssuer):
			c["iss"] = wrongIssuer
		case s.fault(FaultRefreshIDTokenWrongSubject):
			c["sub"] = wrongSubject
		case s.fault(FaultRefreshIDTokenWrongAudience):
			c["aud"] = wrongClientID
		}
		return sign(key, c)
	}

	edits := []struct {
		fault Fault
		edit  func()
	}{
		{FaultIDTokenWrongIssuer, func() { c["iss"] = wrongIssuer }},
		{FaultIDTokenMissingIssuer, func() { delete(c, "iss") }},
		{FaultIDTokenWrongAudience, func() { c["aud"] = wrongClientID }},
		{FaultIDTokenExtraAudience, func() { c["aud"] = []string{req.app.id, wrongClientID} }},
		{FaultIDTokenMissingAudience, func() { delete(c, "aud") }},
		{FaultIDTokenWrongAuthorizedParty, func() { c["azp"] = wrongClientID }},
		{FaultIDTokenMissingSubject, func() { delete(c, "sub") }},
		{FaultIDTokenMissingIssuedAt, func() { delete(c, "iat") }},
		{FaultIDTokenIssuedLongAgo, func() { c["iat"] = now.Add(-7 * 24 * time.Hour).Unix() }},
		{FaultIDTokenIssuedInFuture, func() { c["iat"] = now.Add(time.Hour).Unix() }},
		{FaultIDTokenExpired, func() { c["exp"] = now.Add(-time.Minute).Unix() }},
		{FaultIDTokenMissingExpiry, func() { delete(c, "exp") }},
		{FaultIDTokenWrongNonce, func() { c["nonce"] = wrongNonce }},
		{FaultIDTokenMissingNonce, func() { delete(c, "nonce") }},
	}
	for _, e := range edits {
		if s.fault(e.fault) {
			e.edit()
		}
	}

	switch {
	case s.fault(FaultIDTokenHS256ClientSecret):
		// The classic key-confusion attack: a client that accepts HS256 verifies
		// with its own secret, which the attacker may know.
		return sign(&signingKey{id: key.id, kid: key.kid, algorithm: "HS256", secret: []byte(req.app.oauth.ClientSecret)}, c)
	case s.fault(FaultIDTokenUnknownKey):
		unknown, err := s.unknownSigningKey()
		if err != nil {
			return "", err
		}
		return sign(unknown, c)
	}

	token, err := sign(key, c)
	if err != nil {
		return "", err
	}
	switch {
	case s.fault(FaultIDTokenBadSignature):
		return corruptSignature(token), nil
	case s.fault(FaultIDTokenAlgNone):
		return withAlgNone(token), nil
	}
	return token, nil
}

// unknownSigningKey is the key FaultIDTokenUnknownKey signs with: never in
// s.keys, so JWKS never publishes it. It is made once per Server, since an
// RSA-2048 key takes from milliseconds to over a second to make on a small
// machine, and one unpublished key serves every token: a client that does
// not know a kid fetches the key set again for each token that names it.
// It takes no lock of the Server's, so InjectFault calls it before taking mu
// and signIDToken may call it while holding mu.
func (s *Server) unknownSigningKey() (*signingKey, error) {
	s.unknownKeyOnce.Do(func() {
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			s.unknownKeyErr = fmt.Errorf("key for FaultIDTokenUnknownKey: %w", err)
			return
		}
		s.unknownKey = &signingKey{id: newUUID(), kid: newKid(), algorithm: "RS256", name: "Unknown key", rsa: priv}
	})
	return s.unknownKey, s.unknownKeyErr
}

// corruptSignature flips bits in the first byte of a compact JWS's signature.
func corruptSignature(token string) string {
	parts := strings.Split(token, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) == 0 {
		return token + "x"
	}
	sig[0] ^= 0xff
	parts[2] = base64.RawURLEncoding.EncodeToString(sig)
	return strings.Join(parts, ".")
}

// withAlgNone keeps the payload of a signed token and swaps in an "alg":"none"
// header with an empty signature. go-jose cannot make such a token (rightly), so
// this one fault is assembled by hand.
func withAlgNone(token string) string {
	parts := strings.Split(token, ".")
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	return header + "." + parts[1] + "."
}

// leftHalfHash is at_hash for an RS256 or HS256 token: the left half of SHA-256.
func leftHalfHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// newKid makes a key's kid property, which FusionAuth generates apart from the
// key's id.
func newKid() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return fmt.Sprintf("%x", b)
}

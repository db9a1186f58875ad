package fusionauthtest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// The tenant and applications are kept as the JSON documents the admin API
// receives, so that PATCH is a plain JSON merge; the typed views below are
// decoded from them after every change.

type tenant struct {
	doc map[string]any
	id  string
	jwt jwtConfiguration
	// httpSessionMaxInactiveInterval (seconds) ends an idle SSO session.
	httpSessionMaxInactiveInterval int
}

func (t *tenant) issuer() string {
	issuer, _ := t.doc["issuer"].(string)
	return issuer
}

func (t *tenant) setIssuer(issuer string) {
	t.doc["issuer"] = issuer
}

func (t *tenant) refresh() error {
	var view struct {
		JWT                            jwtConfiguration `json:"jwtConfiguration"`
		HTTPSessionMaxInactiveInterval int              `json:"httpSessionMaxInactiveInterval"`
	}
	if err := remarshal(t.doc, &view); err != nil {
		return err
	}
	t.jwt, t.httpSessionMaxInactiveInterval = view.JWT, view.HTTPSessionMaxInactiveInterval
	return nil
}

type jwtConfiguration struct {
	Enabled                         bool   `json:"enabled"`
	AccessTokenKeyID                string `json:"accessTokenKeyId"`
	IDTokenKeyID                    string `json:"idTokenKeyId"`
	TimeToLiveInSeconds             int    `json:"timeToLiveInSeconds"`
	RefreshTokenTimeToLiveInMinutes int    `json:"refreshTokenTimeToLiveInMinutes"`
	RefreshTokenUsagePolicy         string `json:"refreshTokenUsagePolicy"`
	// The keys, besides the signing key, that FusionAuth 1.69 accepts tokens
	// presented back to it with.
	AccessTokenVerificationKeyIDs []string `json:"accessTokenVerificationKeyIds"`
	IDTokenVerificationKeyIDs     []string `json:"idTokenVerificationKeyIds"`
}

type oauthConfiguration struct {
	AuthorizedRedirectURLs        []string `json:"authorizedRedirectURLs"`
	LogoutURL                     string   `json:"logoutURL"`
	ClientSecret                  string   `json:"clientSecret"`
	ClientAuthenticationPolicy    string   `json:"clientAuthenticationPolicy"`
	ProofKeyForCodeExchangePolicy string   `json:"proofKeyForCodeExchangePolicy"`
	EnabledGrants                 []string `json:"enabledGrants"`
	GenerateRefreshTokens         bool     `json:"generateRefreshTokens"`
	RequireRegistration           bool     `json:"requireRegistration"`
	LogoutBehavior                string   `json:"logoutBehavior"`
}

type application struct {
	doc      map[string]any
	id       string
	tenantID string
	oauth    oauthConfiguration
	jwt      jwtConfiguration
}

// refresh decodes the typed view and fills in FusionAuth's defaults.
func (a *application) refresh() error {
	var view struct {
		OAuth oauthConfiguration `json:"oauthConfiguration"`
		JWT   jwtConfiguration   `json:"jwtConfiguration"`
	}
	if err := remarshal(a.doc, &view); err != nil {
		return err
	}
	a.oauth, a.jwt = view.OAuth, view.JWT
	if a.oauth.ClientAuthenticationPolicy == "" {
		a.oauth.ClientAuthenticationPolicy = "Required"
	}
	if a.oauth.ProofKeyForCodeExchangePolicy == "" {
		a.oauth.ProofKeyForCodeExchangePolicy = "NotRequired"
	}
	if a.oauth.LogoutBehavior == "" {
		a.oauth.LogoutBehavior = "AllApplications"
	}
	return nil
}

func (a *application) grantEnabled(grant string) bool {
	return slices.Contains(a.oauth.EnabledGrants, grant)
}

// redirectAllowed is FusionAuth's default ExactMatch validation.
func (a *application) redirectAllowed(uri string) bool {
	return uri != "" && slices.Contains(a.oauth.AuthorizedRedirectURLs, uri)
}

type user struct {
	id            string
	email         string
	password      string
	firstName     string
	lastName      string
	birthDate     string
	emailVerified bool
	registrations map[string][]string // application id → roles
}

type signingKey struct {
	id        string
	kid       string // the JWT header's kid: a property of its own, not the id
	algorithm string
	name      string
	rsa       *rsa.PrivateKey
	secret    []byte // HMAC keys
}

type authorizationCode struct {
	clientID      string
	redirectURI   string
	userID        string
	scope         string
	nonce         string
	challenge     string
	challengeMeth string
	sessionID     string
	authTime      time.Time
	authType      string
	expires       time.Time
}

type ssoSession struct {
	id       string
	userID   string
	authTime time.Time
	lastUsed time.Time
}

// createDefaults creates what every fresh FusionAuth has: the default tenant,
// its HMAC signing key, and the FusionAuth admin application.
func (s *Server) createDefaults(tenantID, signingKeyID string) error {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails
	s.keys[signingKeyID] = &signingKey{id: signingKeyID, kid: newKid(), algorithm: "HS256", name: "Default signing key", secret: secret}

	s.tenant = &tenant{id: tenantID, doc: map[string]any{
		"id":                             tenantID,
		"name":                           "Default",
		"issuer":                         "acme.com",
		"httpSessionMaxInactiveInterval": defaultSessionInactiveSeconds,
		"jwtConfiguration": map[string]any{
			"accessTokenKeyId":                signingKeyID,
			"idTokenKeyId":                    signingKeyID,
			"timeToLiveInSeconds":             3600,
			"refreshTokenTimeToLiveInMinutes": 43200,
			"refreshTokenUsagePolicy":         "Reusable",
		},
	}}
	if err := s.tenant.refresh(); err != nil {
		return err
	}

	admin := &application{id: FusionAuthApplicationID, tenantID: tenantID, doc: map[string]any{
		"id":       FusionAuthApplicationID,
		"tenantId": tenantID,
		"name":     "FusionAuth",
		"oauthConfiguration": map[string]any{
			"authorizedRedirectURLs": []any{"/admin/login"},
			"logoutURL":              "/admin/single-logout",
			"clientSecret":           newSecret(),
			"enabledGrants":          []any{"authorization_code", "refresh_token"},
			"requireRegistration":    true,
		},
	}}
	if err := admin.refresh(); err != nil {
		return err
	}
	s.apps[admin.id] = admin
	s.appOrder = append(s.appOrder, admin.id)
	return nil
}

// timeToLive is the access and ID token lifetime for app.
func (s *Server) timeToLive(app *application) time.Duration {
	seconds := s.tenant.jwt.TimeToLiveInSeconds
	if app.jwt.Enabled && app.jwt.TimeToLiveInSeconds > 0 {
		seconds = app.jwt.TimeToLiveInSeconds
	}
	if seconds <= 0 {
		seconds = 3600
	}
	return time.Duration(seconds) * time.Second
}

func (s *Server) refreshTimeToLive(app *application) time.Duration {
	minutes := s.tenant.jwt.RefreshTokenTimeToLiveInMinutes
	if app.jwt.Enabled && app.jwt.RefreshTokenTimeToLiveInMinutes > 0 {
		minutes = app.jwt.RefreshTokenTimeToLiveInMinutes
	}
	if minutes <= 0 {
		minutes = 43200
	}
	return time.Duration(minutes) * time.Minute
}

// refreshTokenUsagePolicy is "Reusable" or "OneTimeUse": the application's
// when its jwtConfiguration is enabled and sets one, else the tenant's.
func (s *Server) refreshTokenUsagePolicy(app *application) string {
	if app.jwt.Enabled && app.jwt.RefreshTokenUsagePolicy != "" {
		return app.jwt.RefreshTokenUsagePolicy
	}
	if s.tenant.jwt.RefreshTokenUsagePolicy != "" {
		return s.tenant.jwt.RefreshTokenUsagePolicy
	}
	return "Reusable"
}

// tokenKey is the key that signs app's access tokens (idToken false) or ID tokens.
func (s *Server) tokenKey(app *application, idToken bool) (*signingKey, error) {
	cfg := s.tenant.jwt
	if app.jwt.Enabled {
		cfg = app.jwt
	}
	id := cfg.AccessTokenKeyID
	if idToken {
		id = cfg.IDTokenKeyID
	}
	key, ok := s.keys[id]
	if !ok {
		return nil, fmt.Errorf("application %s: signing key %q does not exist", app.id, id)
	}
	return key, nil
}

// mergePatch applies an RFC 7396 JSON merge patch to target.
func mergePatch(target, patch map[string]any) {
	for name, value := range patch {
		if value == nil {
			delete(target, name)
			continue
		}
		patchObject, ok := value.(map[string]any)
		if !ok {
			target[name] = value
			continue
		}
		targetObject, ok := target[name].(map[string]any)
		if !ok {
			targetObject = map[string]any{}
			target[name] = targetObject
		}
		mergePatch(targetObject, patchObject)
	}
}

// patchedCopy returns a deep copy of doc with patch merged in; doc is unchanged.
func patchedCopy(doc, patch map[string]any) map[string]any {
	patched := deepCopy(doc).(map[string]any)
	mergePatch(patched, patch)
	return patched
}

// deepCopy copies the maps and slices of a decoded JSON document.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(v))
		for name, value := range v {
			c[name] = deepCopy(value)
		}
		return c
	case []any:
		c := make([]any, len(v))
		for i, value := range v {
			c[i] = deepCopy(value)
		}
		return c
	}
	return v
}

func remarshal(from, to any) error {
	data, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, to)
}

func newSecret() string {
	return rand.Text() + rand.Text()
}

// randomToken is 256 random bits, base64url: codes, refresh tokens, cookies.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

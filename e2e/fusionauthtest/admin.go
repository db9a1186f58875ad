package fusionauthtest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"
)

// The admin API: the part of FusionAuth's REST API the kickstart uses, plus the
// GETs tests find handy. Requests carry an API key in the Authorization header
// (no "Bearer"), and the kickstart runner replays its requests through these
// same handlers, so a request the stand-in does not serve fails loudly.

func (s *Server) requireAPIKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.validAPIKey(r.Header.Get("Authorization")) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// validAPIKey reports whether an Authorization header holds one of the API keys.
func (s *Server) validAPIKey(header string) bool {
	for _, key := range s.apiKeys {
		if subtle.ConstantTimeCompare([]byte(header), []byte(key)) == 1 {
			return true
		}
	}
	return false
}

// fieldError answers FusionAuth's validation error shape.
func fieldError(w http.ResponseWriter, field, code, message string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"fieldErrors": map[string]any{
			field: []map[string]string{{"code": code, "message": message}},
		},
	})
}

func decodeBody(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxRecordedBody))
	if err != nil {
		return err
	}
	return decodeJSON(data, v)
}

func (s *Server) handleKeyGenerate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Key struct {
				Algorithm string `json:"algorithm"`
				Name      string `json:"name"`
				Length    int    `json:"length"`
				Kid       string `json:"kid"`
			} `json:"key"`
		}
		if err := decodeBody(r, &body); err != nil {
			fieldError(w, "key", "[invalidJSON]", err.Error())
			return
		}
		id := r.PathValue("id")
		key := &signingKey{id: id, kid: body.Key.Kid, algorithm: body.Key.Algorithm, name: body.Key.Name}
		if key.kid == "" {
			key.kid = newKid()
		}
		switch body.Key.Algorithm {
		case "RS256", "RS384", "RS512":
			bits := body.Key.Length
			if bits == 0 {
				bits = 2048
			}
			priv, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				fieldError(w, "key.length", "[invalid]key.length", err.Error())
				return
			}
			key.rsa = priv
		case "HS256", "HS384", "HS512":
			key.secret = make([]byte, 64)
			_, _ = rand.Read(key.secret) // crypto/rand.Read never fails
		default:
			fieldError(w, "key.algorithm", "[invalid]key.algorithm",
				fmt.Sprintf("the stand-in generates RS256/384/512 and HS256/384/512 keys, not %q", body.Key.Algorithm))
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, exists := s.keys[id]; exists {
			fieldError(w, "key.id", "[duplicate]key.id", "A key with Id ["+id+"] already exists.")
			return
		}
		s.keys[id] = key
		writeJSON(w, http.StatusOK, map[string]any{"key": map[string]any{
			"id": id, "kid": key.kid, "algorithm": key.algorithm, "name": key.name, "length": body.Key.Length,
		}})
	})
}

// handleKeyGet serves GET /api/key/{id}: the key's properties, never its
// private half.
func (s *Server) handleKeyGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		key, ok := s.keys[r.PathValue("id")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"key": map[string]any{
			"id": key.id, "kid": key.kid, "algorithm": key.algorithm, "name": key.name,
		}})
	})
}

func (s *Server) handleTenantGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.PathValue("id") != s.tenant.id {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"tenant": s.tenant.doc})
	})
}

func (s *Server) handleTenantPatch() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Tenant map[string]any `json:"tenant"`
		}
		if err := decodeBody(r, &body); err != nil {
			fieldError(w, "tenant", "[invalidJSON]", err.Error())
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.PathValue("id") != s.tenant.id {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		delete(body.Tenant, "id")
		// Merged into a copy, so that a refused PATCH changes nothing.
		patched := &tenant{id: s.tenant.id, doc: patchedCopy(s.tenant.doc, body.Tenant)}
		if err := patched.refresh(); err != nil {
			fieldError(w, "tenant", "[invalid]tenant", err.Error())
			return
		}
		s.tenant = patched
		writeJSON(w, http.StatusOK, map[string]any{"tenant": s.tenant.doc})
	})
}

func (s *Server) handleApplicationGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		app, ok := s.apps[r.PathValue("id")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"application": app.doc})
	})
}

// readApplication decodes the {"application": {...}} body of a create or PATCH
// request, answering the error itself when it cannot.
func readApplication(w http.ResponseWriter, r *http.Request) (doc map[string]any, ok bool) {
	var body struct {
		Application map[string]any `json:"application"`
	}
	if err := decodeBody(r, &body); err != nil {
		fieldError(w, "application", "[invalidJSON]", err.Error())
		return nil, false
	}
	return body.Application, true
}

// saveApplication checks app as FusionAuth would, then stores it and answers
// with it; a refused application is answered with the error and not stored.
// The caller holds s.mu.
func (s *Server) saveApplication(w http.ResponseWriter, app *application) {
	if err := app.refresh(); err != nil {
		fieldError(w, "application", "[invalid]application", err.Error())
		return
	}
	switch app.jwt.RefreshTokenUsagePolicy {
	case "", "Reusable", "OneTimeUse":
	default:
		fieldError(w, "application.jwtConfiguration.refreshTokenUsagePolicy", "[invalid]application.jwtConfiguration.refreshTokenUsagePolicy",
			"The refresh token usage policy must be Reusable or OneTimeUse, not ["+app.jwt.RefreshTokenUsagePolicy+"].")
		return
	}
	if app.jwt.Enabled {
		for _, keyID := range []string{app.jwt.AccessTokenKeyID, app.jwt.IDTokenKeyID} {
			if _, ok := s.keys[keyID]; keyID != "" && !ok {
				fieldError(w, "application.jwtConfiguration", "[invalid]keyId", "The key ["+keyID+"] does not exist.")
				return
			}
		}
		if app.jwt.AccessTokenKeyID == "" || app.jwt.IDTokenKeyID == "" {
			fieldError(w, "application.jwtConfiguration", "[blank]keyId",
				"the stand-in needs accessTokenKeyId and idTokenKeyId when jwtConfiguration is enabled")
			return
		}
	}
	if _, exists := s.apps[app.id]; !exists {
		s.appOrder = append(s.appOrder, app.id)
	}
	s.apps[app.id] = app
	writeJSON(w, http.StatusOK, map[string]any{"application": app.doc})
}

func (s *Server) handleApplicationCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, ok := readApplication(w, r)
		if !ok {
			return
		}
		if doc == nil {
			fieldError(w, "application", "[blank]application", "You must specify the [application] property.")
			return
		}
		id := r.PathValue("id")
		s.mu.Lock()
		defer s.mu.Unlock()
		if tenantID := r.Header.Get("X-FusionAuth-TenantId"); tenantID != "" && tenantID != s.tenant.id {
			fieldError(w, "tenantId", "[invalid]tenantId", "The tenant ["+tenantID+"] does not exist.")
			return
		}
		if _, exists := s.apps[id]; exists {
			fieldError(w, "application.id", "[duplicate]application.id", "An application with Id ["+id+"] already exists.")
			return
		}
		doc["id"] = id
		doc["tenantId"] = s.tenant.id
		oauth, _ := doc["oauthConfiguration"].(map[string]any)
		if oauth == nil {
			oauth = map[string]any{}
			doc["oauthConfiguration"] = oauth
		}
		if secret, _ := oauth["clientSecret"].(string); secret == "" {
			oauth["clientSecret"] = newSecret()
		}
		oauth["clientId"] = id
		s.saveApplication(w, &application{id: id, tenantID: s.tenant.id, doc: doc})
	})
}

func (s *Server) handleApplicationPatch() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		patch, ok := readApplication(w, r)
		if !ok {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		app, ok := s.apps[r.PathValue("id")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		delete(patch, "id")
		delete(patch, "tenantId")
		// Merged into a copy, so that a refused PATCH changes nothing.
		s.saveApplication(w, &application{id: app.id, tenantID: app.tenantID, doc: patchedCopy(app.doc, patch)})
	})
}

func (s *Server) handleRegistrationCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			User *struct {
				Email     string `json:"email"`
				Password  string `json:"password"`
				FirstName string `json:"firstName"`
				LastName  string `json:"lastName"`
				BirthDate string `json:"birthDate"`
				Verified  *bool  `json:"verified"`
			} `json:"user"`
			Registration struct {
				ApplicationID string   `json:"applicationId"`
				Roles         []string `json:"roles"`
			} `json:"registration"`
		}
		if err := decodeBody(r, &body); err != nil {
			fieldError(w, "registration", "[invalidJSON]", err.Error())
			return
		}
		userID := r.PathValue("userId")
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.apps[body.Registration.ApplicationID]; !ok {
			fieldError(w, "registration.applicationId", "[invalid]registration.applicationId",
				"No Application with Id ["+body.Registration.ApplicationID+"] exists.")
			return
		}
		u, exists := s.users[userID]
		switch {
		case !exists && body.User == nil:
			fieldError(w, "user", "[blank]user", "You must specify the [user] property.")
			return
		case !exists:
			if body.User.Email == "" || body.User.Password == "" {
				fieldError(w, "user.email", "[blank]user.email", "the stand-in needs user.email and user.password")
				return
			}
			for _, other := range s.users {
				if strings.EqualFold(other.email, body.User.Email) {
					fieldError(w, "user.email", "[duplicate]user.email", "A User with email ["+body.User.Email+"] already exists.")
					return
				}
			}
			u = &user{
				id:            userID,
				email:         body.User.Email,
				password:      body.User.Password,
				firstName:     body.User.FirstName,
				lastName:      body.User.LastName,
				birthDate:     body.User.BirthDate,
				emailVerified: body.User.Verified == nil || *body.User.Verified,
				registrations: map[string][]string{},
			}
			s.users[userID] = u
		}
		if _, registered := u.registrations[body.Registration.ApplicationID]; registered {
			fieldError(w, "registration.applicationId", "[duplicate]registration.applicationId",
				"The User is already registered to the Application.")
			return
		}
		roles := body.Registration.Roles
		if roles == nil {
			roles = []string{}
		}
		u.registrations[body.Registration.ApplicationID] = roles
		writeJSON(w, http.StatusOK, map[string]any{
			"user":         map[string]any{"id": u.id, "email": u.email},
			"registration": map[string]any{"applicationId": body.Registration.ApplicationID, "roles": roles},
		})
	})
}

// handleRegistrationGet serves GET /api/user/registration/{userId}/{applicationId},
// FusionAuth's Retrieve a User Registration: 200 with the registration, or 404
// when the user does not exist or is not registered to the application.
func (s *Server) handleRegistrationGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		appID := r.PathValue("applicationId")
		u, ok := s.users[r.PathValue("userId")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		roles, registered := u.registrations[appID]
		if !registered {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"registration": map[string]any{"applicationId": appID, "roles": roles},
		})
	})
}

// handleRefreshTokenRevoke serves DELETE /api/jwt/refresh?token=… (or ?userId=…,
// optionally with &applicationId=…).
func (s *Server) handleRefreshTokenRevoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		token, userID, appID := q.Get("token"), q.Get("userId"), q.Get("applicationId")
		s.mu.Lock()
		defer s.mu.Unlock()
		if token == "" && userID == "" && appID == "" {
			fieldError(w, "token", "[blank]token", "You must specify a token, userId or applicationId.")
			return
		}
		s.revokeRefreshTokens(refreshTokenSelector{token: token, userID: userID, applicationID: appID})
		w.WriteHeader(http.StatusOK)
	})
}

// runKickstart replays the kickstart's requests through the admin API handlers,
// with its first API key, and stops at the first one that fails.
func (s *Server) runKickstart(path string, ks *Kickstart) error {
	const logger = "io.fusionauth.api.service.system.kickstart.KickstartRunner"
	start := time.Now()
	fmt.Fprintf(s.opts.Log, "%s INFO  %s - Kickstart file [%s] found, running [%d] requests\n",
		s.logTime(), logger, path, len(ks.Requests))
	for i, req := range ks.Requests {
		body := []byte(req.Body)
		if len(body) == 0 {
			body = []byte("{}")
		}
		method := strings.ToUpper(req.Method)
		r := httptest.NewRequest(method, req.Path(), bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", s.apiKeys[0])
		if req.TenantID != "" {
			r.Header.Set("X-FusionAuth-TenantId", req.TenantID)
		}
		w := httptest.NewRecorder()
		if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
			s.routes.ServeHTTP(w, r)
		} else {
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
		if w.Code < 200 || w.Code > 299 {
			fmt.Fprintf(s.opts.Log, "%s ERROR %s - Failed to execute request to [%s][%s] Status [%d]\n%s\n",
				s.logTime(), logger, method, req.Path(), w.Code, w.Body.String())
			return &KickstartError{Index: i, Method: method, URL: req.Path(), Status: w.Code, Body: w.Body.String()}
		}
	}
	fmt.Fprintf(s.opts.Log, "%s INFO  %s - Summary: Applied [%d] API keys and [%d] requests in [%d] ms\n",
		s.logTime(), logger, len(ks.APIKeys), len(ks.Requests), time.Since(start).Milliseconds())
	return nil
}

// KickstartError reports the kickstart request the stand-in could not apply: a
// request it does not support (404 or 405) or one FusionAuth would refuse too.
type KickstartError struct {
	Index  int // position in "requests", from 0
	Method string
	URL    string
	Status int
	Body   string
}

func (e *KickstartError) Error() string {
	msg := fmt.Sprintf("kickstart request %d: Failed to execute request to [%s][%s] Status [%d]", e.Index, e.Method, e.URL, e.Status)
	if e.Status == http.StatusNotFound || e.Status == http.StatusMethodNotAllowed {
		msg += " (the stand-in does not support this request)"
	}
	if e.Body != "" {
		msg += ": " + strings.TrimSpace(e.Body)
	}
	return msg
}

// IsUnsupported reports whether err is a kickstart request the stand-in does not serve.
func IsUnsupported(err error) bool {
	var ke *KickstartError
	return errors.As(err, &ke) && (ke.Status == http.StatusNotFound || ke.Status == http.StatusMethodNotAllowed)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(data) // the client has gone if this fails
}

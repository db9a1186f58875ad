package fusionauthtest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"changebank/e2e/fusionauthtest"
)

const testAPIKey = "kickstart-test-api-key-0123456789"

// writeKickstart writes files (path → content) into a fresh folder and returns
// the path of kickstart.json in it.
func writeKickstart(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	}
	return filepath.Join(dir, "kickstart.json")
}

// adminGet calls the admin API of an in-process server and decodes the answer.
func adminGet(t *testing.T, s *fusionauthtest.Server, path string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", s.APIKey())
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	var body map[string]any
	if rec.Body.Len() > 0 {
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), "body of %s", path)
	}
	return rec.Code, body
}

func applicationField(body map[string]any, names ...string) any {
	var v any = body["application"]
	for _, name := range names {
		m, _ := v.(map[string]any)
		v = m[name]
	}
	return v
}

func TestKickstartApplies(t *testing.T) {
	const appID = "11111111-2222-4333-8444-555555555555"
	tests := []struct {
		name  string
		files map[string]string
		env   map[string]string
		check func(t *testing.T, s *fusionauthtest.Server)
	}{
		{
			name: "variables, environment variables and UUIDs",
			env:  map[string]string{"APP_NAME": "From the environment"},
			files: map[string]string{"kickstart.json": `{
  "variables": {"apiKey": "` + testAPIKey + `", "appId": "` + appID + `", "keyId": "#{UUID()}", "name": "#{ENV.APP_NAME}"},
  "apiKeys": [{"key": "#{apiKey}"}],
  "requests": [
    {"method": "POST", "url": "/api/key/generate/#{keyId}", "body": {"key": {"algorithm": "HS256", "name": "k"}}},
    {"method": "POST", "url": "/api/application/#{appId}", "body": {"application": {"name": "#{name}",
      "jwtConfiguration": {"enabled": true, "accessTokenKeyId": "#{keyId}", "idTokenKeyId": "#{keyId}"}}}}
  ]}`},
			check: func(t *testing.T, s *fusionauthtest.Server) {
				status, body := adminGet(t, s, "/api/application/"+appID)
				require.Equal(t, http.StatusOK, status)
				assert.Equal(t, "From the environment", applicationField(body, "name"))
				keyID, _ := applicationField(body, "jwtConfiguration", "accessTokenKeyId").(string)
				assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, keyID,
					"#{UUID()} inside a variable is one UUID, used everywhere the variable is")
				assert.Equal(t, keyID, applicationField(body, "jwtConfiguration", "idTokenKeyId"))
			},
		},
		{
			name: "URL without a leading slash, unknown fields",
			files: map[string]string{"kickstart.json": `{
  "variables": {"unused": "x"},
  "apiKeys": [{"key": "` + testAPIKey + `", "description": "d", "permissions": {"endpoints": {}}}],
  "settings": {"connectTimeout": 1000, "readTimeout": 1000},
  "futureTopLevelField": true,
  "requests": [
    {"method": "POST", "url": "api/application/` + appID + `", "someNewField": 1,
     "body": {"application": {"name": "No slash", "brandNewSetting": {"a": 1}}}}
  ]}`},
			check: func(t *testing.T, s *fusionauthtest.Server) {
				status, body := adminGet(t, s, "/api/application/"+appID)
				require.Equal(t, http.StatusOK, status)
				assert.Equal(t, "No slash", applicationField(body, "name"))
			},
		},
		{
			name: "defaultTenantId renames the default tenant; built-in variables",
			files: map[string]string{"kickstart.json": `{
  "variables": {"defaultTenantId": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"},
  "apiKeys": [{"key": "` + testAPIKey + `"}],
  "requests": [
    {"method": "PATCH", "url": "/api/tenant/#{FUSIONAUTH_TENANT_ID}", "body": {"tenant": {"issuer": "https://issuer.example"}}},
    {"method": "POST", "url": "/api/application/` + appID + `", "tenantId": "#{defaultTenantId}",
     "body": {"application": {"name": "#{FUSIONAUTH_DEFAULT_SIGNING_KEY_ID}"}}},
    {"method": "POST", "url": "/api/user/registration/00000000-0000-0000-0000-000000000009",
     "body": {"user": {"email": "a@example.com", "password": "password"}, "registration": {"applicationId": "#{FUSIONAUTH_APPLICATION_ID}"}}}
  ]}`},
			check: func(t *testing.T, s *fusionauthtest.Server) {
				status, body := adminGet(t, s, "/api/tenant/aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")
				require.Equal(t, http.StatusOK, status, "the default tenant has the new id")
				tenant, _ := body["tenant"].(map[string]any)
				assert.Equal(t, "https://issuer.example", tenant["issuer"])
				_, app := adminGet(t, s, "/api/application/"+appID)
				assert.NotContains(t, applicationField(app, "name"), "#{", "FUSIONAUTH_DEFAULT_SIGNING_KEY_ID is defined")
			},
		},
		{
			name: "text and JSON includes",
			files: map[string]string{
				"kickstart.json": `{
  "apiKeys": [{"key": "` + testAPIKey + `"}],
  "variables": {"appId": "` + appID + `"},
  "requests": ["&{json/application.json}"]}`,
				"json/application.json": `{"method": "POST", "url": "/api/application/#{appId}",
  "body": {"application": {"name": "Included", "data": {"terms": "@{text/terms.txt}"}}}}`,
				"text/terms.txt": "Line one, \"quoted\"\nLine two\\",
			},
			check: func(t *testing.T, s *fusionauthtest.Server) {
				status, body := adminGet(t, s, "/api/application/"+appID)
				require.Equal(t, http.StatusOK, status)
				assert.Equal(t, "Included", applicationField(body, "name"))
				assert.Equal(t, "Line one, \"quoted\"\nLine two\\", applicationField(body, "data", "terms"))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			s, err := fusionauthtest.New(fusionauthtest.Options{
				KickstartPath: writeKickstart(t, tt.files),
				Getenv:        func(name string) string { return tt.env[name] },
				Log:           &log,
			})
			require.NoError(t, err, "log:\n%s", log.String())
			assert.Contains(t, log.String(), "KickstartRunner - Summary")
			assert.NotContains(t, log.String(), "Failed to execute request")
			tt.check(t, s)
		})
	}
}

func TestKickstartRefuses(t *testing.T) {
	tests := []struct {
		name            string
		kickstart       string
		wantErr         string
		wantLog         string
		wantUnsupported bool
	}{
		{
			name:      "bad JSON is reported with its line and column",
			kickstart: "{\n  \"apiKeys\": [{\"key\": \"k\"}],\n  \"requests\": [,]\n}",
			wantErr:   "line 3, column 16",
		},
		{
			name:      "a variable that breaks the JSON is reported after substitution",
			kickstart: `{"variables": {"v": "a\"b"}, "apiKeys": [{"key": "#{v}"}], "requests": []}`,
			wantErr:   "after substitution",
		},
		{
			name: "an unsupported request stops the kickstart and is named",
			kickstart: `{"apiKeys": [{"key": "` + testAPIKey + `"}], "requests": [
  {"method": "POST", "url": "/api/webhook", "body": {"webhook": {"url": "http://example.com"}}},
  {"method": "POST", "url": "/api/application/x", "body": {"application": {"name": "never"}}}]}`,
			wantErr:         "[POST][/api/webhook] Status [404]",
			wantLog:         "Failed to execute request to [POST][/api/webhook] Status [404]",
			wantUnsupported: true,
		},
		{
			name:            "a method kickstart does not allow",
			kickstart:       `{"apiKeys": [{"key": "` + testAPIKey + `"}], "requests": [{"method": "DELETE", "url": "/api/jwt/refresh"}]}`,
			wantLog:         "Failed to execute request to [DELETE][/api/jwt/refresh] Status [405]",
			wantUnsupported: true,
		},
		{
			name: "a request FusionAuth would refuse too",
			kickstart: `{"apiKeys": [{"key": "` + testAPIKey + `"}], "requests": [
  {"method": "POST", "url": "/api/user/registration/u1", "body": {"user": {"email": "a@example.com", "password": "p"},
   "registration": {"applicationId": "no-such-application"}}}]}`,
			wantLog: "Failed to execute request to [POST][/api/user/registration/u1] Status [400]",
		},
		{
			name:      "a missing include",
			kickstart: `{"apiKeys": [{"key": "k"}], "requests": ["&{json/missing.json}"]}`,
			wantErr:   "include &{json/missing.json}",
		},
		{
			name:      "no API key",
			kickstart: `{"requests": []}`,
			wantErr:   "no apiKeys",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			_, err := fusionauthtest.New(fusionauthtest.Options{
				KickstartPath: writeKickstart(t, map[string]string{"kickstart.json": tt.kickstart}),
				Log:           &log,
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Contains(t, log.String(), tt.wantLog)
			assert.NotContains(t, log.String(), "KickstartRunner - Summary", "no summary after a failure")
			assert.Equal(t, tt.wantUnsupported, fusionauthtest.IsUnsupported(err), "IsUnsupported(%v)", err)
		})
	}
}

func TestProjectKickstartLoadsCompletely(t *testing.T) {
	var log bytes.Buffer
	s, err := fusionauthtest.New(fusionauthtest.Options{KickstartPath: projectKickstart, Log: &log})
	require.NoError(t, err, "the project's kickstart must apply; log:\n%s", log.String())
	assert.NotContains(t, log.String(), "Failed to execute request")
	assert.Contains(t, log.String(), "KickstartRunner - Summary")
	assert.Equal(t, "http://localhost:9011", s.Issuer(), "the kickstart's tenant issuer")

	ks, err := fusionauthtest.LoadKickstart(projectKickstart, nil)
	require.NoError(t, err)
	assert.Equal(t, ks.APIKeys[0].Key, s.APIKey())
	for i, req := range ks.Requests {
		assert.NotContains(t, req.URL, "#{", "request %d has an unresolved variable", i)
	}
	assert.False(t, strings.Contains(string(ks.Requests[0].Body), "#{"), "first request body is substituted")
}

func TestDefaultKickstartIsFoundFromTheModuleRoot(t *testing.T) {
	s, err := fusionauthtest.New(fusionauthtest.Options{})
	require.NoError(t, err)
	assert.Equal(t, "http://localhost:9011", s.Issuer())
}

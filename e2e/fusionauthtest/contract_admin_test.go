package fusionauthtest_test

// Contract tests of the admin API the tests and the e2e suite use.

import (
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestContractAdminAPIAddsRedirectURL is how a test serves the callback on a
// random port, against FusionAuth or the stand-in alike.
func TestContractAdminAPIAddsRedirectURL(t *testing.T) {
	tg := newTarget(t)
	path := "/api/application/" + tg.ClientID
	status, got := adminRequest(t, tg, http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, status)
	original := redirectURLs(t, got)

	added := "http://127.0.0.1:54321/callback"
	patch := map[string]any{"application": map[string]any{"oauthConfiguration": map[string]any{
		"authorizedRedirectURLs": append(slices.Clone(original), added),
	}}}
	status, _ = adminRequest(t, tg, http.MethodPatch, path, patch)
	require.Equal(t, http.StatusOK, status, "PATCH the application")
	t.Cleanup(func() {
		restore := map[string]any{"application": map[string]any{"oauthConfiguration": map[string]any{
			"authorizedRedirectURLs": original,
		}}}
		status, _ := adminRequest(t, tg, http.MethodPatch, path, restore)
		assert.Equal(t, http.StatusOK, status, "restore the redirect URLs")
	})

	tg.RedirectURL = added
	c := newClient(t, testContext(t), tg)
	code, _ := logIn(t, c, newBrowser(t))
	assert.NotEmpty(t, code)

	unauthorized, _ := adminRequest(t, target{URL: tg.URL, APIKey: "wrong-key"}, http.MethodGet, path, nil)
	assert.Equal(t, http.StatusUnauthorized, unauthorized, "the admin API needs the API key")
}

func redirectURLs(t *testing.T, body map[string]any) []string {
	t.Helper()
	app, _ := body["application"].(map[string]any)
	oauth, _ := app["oauthConfiguration"].(map[string]any)
	list, _ := oauth["authorizedRedirectURLs"].([]any)
	var urls []string
	for _, u := range list {
		s, _ := u.(string)
		urls = append(urls, s)
	}
	require.NotEmpty(t, urls, "the application's authorizedRedirectURLs")
	return urls
}

// TestContractRetrieveRegistration: GET /api/user/registration/{userId}/{applicationId}
// answers 200 with the registration for a registered user and 404 otherwise. The e2e
// suite waits on it for the kickstart's last effect.
func TestContractRetrieveRegistration(t *testing.T) {
	tg := newTarget(t)
	// The kickstart's user ids (kickstart/kickstart.json: userUserId and adminUserId).
	const richard, admin = "00000000-0000-0000-0000-111111111111", "00000000-0000-0000-0000-000000000001"
	tests := []struct {
		name       string
		userID     string
		wantStatus int
	}{
		{"registered user", richard, http.StatusOK},
		{"user registered to another application", admin, http.StatusNotFound},
		{"no such user", "00000000-0000-0000-0000-999999999999", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := adminRequest(t, tg, http.MethodGet, "/api/user/registration/"+tt.userID+"/"+tg.ClientID, nil)
			require.Equal(t, tt.wantStatus, status)
			if tt.wantStatus == http.StatusOK {
				reg, _ := body["registration"].(map[string]any)
				assert.Equal(t, tg.ClientID, reg["applicationId"], "the registration names the application")
			}
		})
	}
	status, _ := adminRequest(t, target{URL: tg.URL, APIKey: "wrong-key"}, http.MethodGet, "/api/user/registration/"+richard+"/"+tg.ClientID, nil)
	assert.Equal(t, http.StatusUnauthorized, status, "the admin API needs the API key")
}

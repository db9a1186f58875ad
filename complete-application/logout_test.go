package main

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLogoutWithFusionAuthMakesNoAPICall: FusionAuth advertises no
// revocation endpoint and the app holds no API key, so logout only clears
// the cookies and goes to the end-session endpoint.
func TestLogoutWithFusionAuthMakesNoAPICall(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	app.login()
	idp.ResetRequests()

	resp := app.post("/logout", nil)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Empty(t, idp.Requests(), "logout itself calls nothing at FusionAuth")
}

// TestLogoutRevokesWhereAdvertised: with a provider that advertises an RFC
// 7009 revocation endpoint, logout revokes the refresh token there, with the
// client's credentials.
func TestLogoutRevokesWhereAdvertised(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	app.login()

	var mu sync.Mutex
	var revoked []string
	var clientID, clientSecret string
	revocation := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		clientID, clientSecret, _ = r.BasicAuth()
		if err := r.ParseForm(); err == nil && r.PostForm.Get("token_type_hint") == "refresh_token" {
			revoked = append(revoked, r.PostForm.Get("token"))
		}
	}))
	t.Cleanup(revocation.Close)
	provider, err := app.auth.provider(t.Context())
	require.NoError(t, err)
	provider.revocationURL = revocation.URL

	resp := app.post("/logout", nil)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, revoked, 1, "one revocation request")
	assert.NotEmpty(t, revoked[0])
	assert.Equal(t, testClientID, clientID)
	assert.Equal(t, kickstartClientSecret, clientSecret)
}

// TestRefreshWithoutIDToken: a refresh response may omit the ID token
// (OpenID Connect Core 12.2). The session keeps the login's user and ID
// token, and logout still sends that ID token as id_token_hint.
func TestRefreshWithoutIDToken(t *testing.T) {
	front := newIDPFront(t)
	app := front.newApp(t)
	app.login()
	idTokenBefore := app.cookie("cb_id_token")
	front.setTokenRewrite(func(grant string, body map[string]any) {
		if grant == "refresh_token" {
			delete(body, "id_token")
		}
	})

	front.idp.Advance(61 * time.Minute)
	resp := app.get("/account")
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	assert.Equal(t, testUserEmail, elementText(resp.body, "email"))
	assert.NotEqual(t, idTokenBefore, app.cookie("cb_id_token"), "the ID token cookie is sealed again")

	logout := app.post("/logout", nil)
	require.Equal(t, http.StatusSeeOther, logout.StatusCode)
	assert.Contains(t, logout.Header.Get("Location"), "id_token_hint=ey", "the login's ID token is the hint")
}

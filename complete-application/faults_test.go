package main

import (
	"net/http"
	"testing"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCallbackRefusesMisbehavingFusionAuth runs one login per misbehaviour
// of the identity provider, as the OpenID Foundation's relying-party tests
// do. Each must end without a session and without further calls to the token
// or userinfo endpoints.
func TestCallbackRefusesMisbehavingFusionAuth(t *testing.T) {
	tests := []struct {
		fault fusionauthtest.Fault
		// status is the callback's answer: 400 when the redirect itself is
		// wrong (refused before any token request), 502 when FusionAuth's
		// tokens are.
		status int
	}{
		{fusionauthtest.FaultIDTokenWrongIssuer, http.StatusBadGateway},
		{fusionauthtest.FaultIDTokenMissingIssuer, http.StatusBadGateway},
		{fusionauthtest.FaultIDTokenWrongAudience, http.StatusBadGateway},
		{fusionauthtest.FaultIDTokenExtraAudience, http.StatusBadGateway},
		{fusionauthtest.FaultIDTokenMissingAudience, http.StatusBadGateway},
		{fusionauthtest.FaultIDTokenWrongAuthorizedParty, http.StatusBadGateway},
		{fusionauthtest.FaultIDTokenMissingSubject, http.StatusBadGateway},
		{fusionauthtest.FaultIDTokenMissingIssuedAt, http.StatusBadGateway},
		{fusionauthtest.FaultIDTokenIssuedLongAgo, http.StatusBadGateway},
		{fusionauthtest.FaultIDTokenIssuedInFuture, http.StatusBadGateway},
		{fusionauthtest.FaultIDTokenExpired, http.StatusBadGateway},
		{fusionauthtest.FaultIDTokenMissingExpiry, http.StatusBadGateway},
		{fusionauthtest.FaultIDTokenWrongNonce, http.StatusBadGateway},
		{fusionauthtest.FaultIDTokenMissingNonce, http.StatusBadGateway},
		{fusionauthtest.FaultIDTokenBadSignature, http.StatusBadGateway},
		{fusionauthtest.FaultIDTokenAlgNone, http.StatusBadGateway},
		{fusionauthtest.FaultIDTokenHS256ClientSecret, http.StatusBadGateway},
		{fusionauthtest.FaultIDTokenUnknownKey, http.StatusBadGateway},
		{fusionauthtest.FaultTokenResponseError, http.StatusBadGateway},
		{fusionauthtest.FaultTokenResponseNoIDToken, http.StatusBadGateway},
		{fusionauthtest.FaultTokenResponseDPoP, http.StatusBadGateway},
		{fusionauthtest.FaultTokenEndpointHangs, http.StatusBadGateway},
		{fusionauthtest.FaultCallbackAlteredState, http.StatusBadRequest},
		{fusionauthtest.FaultCallbackWrongIssuer, http.StatusBadRequest},
		{fusionauthtest.FaultCallbackError, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
			app := newTestApp(t, idp)
			idp.InjectFault(tt.fault)

			callback, err := app.loginCallback(testUserEmail, testUserPassword)

			require.NoError(t, err)
			resp := app.get(callback)
			assert.Equal(t, tt.status, resp.StatusCode, "GET /callback: %s", resp.body)
			assert.NotEmpty(t, elementText(resp.body, "error"), "an error page explains what happened")
			assert.NotContains(t, resp.body, "<script", "markup from FusionAuth is escaped")
			assertLoggedOut(t, app)

			wantTokenCalls := 1
			if tt.status == http.StatusBadRequest {
				wantTokenCalls = 0
			}
			assert.Equal(t, wantTokenCalls, requestsTo(idp, "/oauth2/token"), "token requests")
			assert.Zero(t, requestsTo(idp, "/oauth2/userinfo"), "userinfo requests")
		})
	}

	// The positive control: the same steps log in against a correct
	// FusionAuth, so the cases above cannot pass by refusing everything.
	t.Run("NoFault", func(t *testing.T) {
		idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
		app := newTestApp(t, idp)
		require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
		assert.Equal(t, testUserEmail, elementText(app.get("/account").body, "email"))
	})
}

// TestReplayedCallbackIsRefused: the code and state of a finished login
// cannot be used again, and the app does not even try.
func TestReplayedCallbackIsRefused(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	callback, err := app.loginCallback(testUserEmail, testUserPassword)
	require.NoError(t, err)
	require.Equal(t, http.StatusSeeOther, app.get(callback).StatusCode)
	app.post("/logout", nil)

	idp.ResetRequests()
	resp := app.get(callback)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Zero(t, requestsTo(idp, "/oauth2/token"), "no token request for a replayed callback")
	assertLoggedOut(t, app)
}

// TestCallbackErrorIsEscaped: FusionAuth's error description reaches the
// page as text, never as markup.
func TestCallbackErrorIsEscaped(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	authorize, err := app.startLogin()
	require.NoError(t, err)
	state := authorize.Query().Get("state")
	resp := app.get("/callback?error=access_denied&state=" + state +
		"&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E%3Cb%3Ebold%3C%2Fb%3E")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.NotContains(t, resp.body, "<script>")
	assert.NotContains(t, resp.body, "<b>")
	assert.Contains(t, resp.body, "&lt;script&gt;")
	assertLoggedOut(t, app)
}

// assertLoggedOut checks the browser holds no session and /account refuses it.
func assertLoggedOut(t *testing.T, app *testApp) {
	t.Helper()
	for _, name := range []string{"cb_access_token", "cb_refresh_token", "cb_id_token", "cb_user", "cb_login"} {
		assert.Empty(t, app.cookie(name), "cookie %s", name)
	}
	resp := app.get("/account")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "GET /account")
	assert.Equal(t, "/", resp.Header.Get("Location"), "GET /account goes home")
}

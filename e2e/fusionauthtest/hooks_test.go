package fusionauthtest_test

// Tests of the stand-in's own hooks (clock, faults, key rotation, request
// recording). A real FusionAuth has none of them, so these skip when
// FUSIONAUTH_URL is set.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"changebank/e2e/fusionauthtest"
)

func TestRotatedKeyIsPublished(t *testing.T) {
	tg := stub(t)
	ctx := testContext(t)
	c := newClient(t, ctx, tg)

	first := runFlow(t, c)
	require.NoError(t, first.verifyErr)
	newKeyID, err := tg.Stub.RotateKey()
	require.NoError(t, err)
	status, key := adminRequest(t, tg, http.MethodGet, "/api/key/"+newKeyID, nil)
	require.Equal(t, http.StatusOK, status)
	newKid := key["key"].(map[string]any)["kid"]

	tg.Stub.ResetRequests()
	second := runFlow(t, c)
	assert.Equal(t, newKid, second.header["kid"], "the header names the key's kid property")
	assert.NotEqual(t, newKeyID, second.header["kid"], "not its id")
	assert.NotEqual(t, first.header["kid"], second.header["kid"])
	require.NoError(t, second.verifyErr, "go-oidc refetches JWKS for the new kid")
	assert.Equal(t, 1, countRequests(tg.Stub.Requests(), http.MethodGet, "/.well-known/jwks.json"), "one JWKS refetch")
}

func countRequests(requests []fusionauthtest.Request, method, path string) int {
	n := 0
	for _, r := range requests {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// TestRotatedKeyIsTrustedOnlyWhenListed is FusionAuth 1.69's rule for tokens
// presented back to it: after a rotation an old token is refused by userinfo
// and as an id_token_hint until the application lists the old key among its
// verification keys.
func TestRotatedKeyIsTrustedOnlyWhenListed(t *testing.T) {
	tg := stub(t)
	ctx := testContext(t)
	c := newClient(t, ctx, tg)
	token := logInForTokens(t, c, newBrowser(t))
	hint := token.Extra("id_token").(string)
	appPath := "/api/application/" + tg.ClientID
	_, app := adminRequest(t, tg, http.MethodGet, appPath, nil)
	oldKeyID, _ := applicationField(app, "jwtConfiguration", "accessTokenKeyId").(string)
	require.NotEmpty(t, oldKeyID)

	userinfo := func() int {
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, tg.URL+"/oauth2/userinfo", nil)
		require.NoError(t, err)
		r.Header.Set("Authorization", "Bearer "+token.AccessToken)
		resp, err := http.DefaultClient.Do(r)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	logout := func() page {
		return newBrowser(t).get(t, tg.URL+"/oauth2/logout?"+url.Values{"client_id": {tg.ClientID}, "id_token_hint": {hint}}.Encode())
	}
	require.Equal(t, http.StatusOK, userinfo(), "before the rotation")
	require.Equal(t, http.StatusOK, logout().Status, "before the rotation")

	_, err := tg.Stub.RotateKey()
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, userinfo(), "an access token signed with the old key")
	refused := logout()
	assert.Equal(t, http.StatusBadRequest, refused.Status, "an id_token_hint signed with the old key")
	assert.Contains(t, refused.Body, "invalid_id_token_hint")

	status, _ := adminRequest(t, tg, http.MethodPatch, appPath, map[string]any{"application": map[string]any{"jwtConfiguration": map[string]any{
		"accessTokenVerificationKeyIds": []string{oldKeyID}, "idTokenVerificationKeyIds": []string{oldKeyID},
	}}})
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, http.StatusOK, userinfo(), "the old key, listed")
	assert.Equal(t, http.StatusOK, logout().Status, "the old key, listed")
}

// userinfoAnswer calls userinfo with accessToken as the bearer token.
func userinfoAnswer(t *testing.T, tg target, accessToken string) page {
	t.Helper()
	r, err := http.NewRequestWithContext(testContext(t), http.MethodGet, tg.URL+"/oauth2/userinfo", nil)
	require.NoError(t, err)
	r.Header.Set("Authorization", "Bearer "+accessToken)
	return newBrowser(t).do(t, r)
}

// TestShortLivedAccessTokenIsRefreshed shortens the lifetime through the admin
// API, as a test would against FusionAuth, and moves the clock past it.
func TestShortLivedAccessTokenIsRefreshed(t *testing.T) {
	tg := stub(t)
	ctx := testContext(t)
	status, _ := adminRequest(t, tg, http.MethodPatch, "/api/application/"+tg.ClientID, map[string]any{
		"application": map[string]any{"jwtConfiguration": map[string]any{
			"timeToLiveInSeconds": 60, "refreshTokenTimeToLiveInMinutes": 10,
		}},
	})
	require.Equal(t, http.StatusOK, status)
	c := newClient(t, ctx, tg)

	code, req := logIn(t, c, newBrowser(t))
	token, err := c.config.Exchange(ctx, code, oauth2.VerifierOption(req.Verifier))
	require.NoError(t, err)
	assert.InDelta(t, 60, time.Until(token.Expiry).Seconds(), 5, "expires_in follows the PATCH")

	userinfo := func(tok *oauth2.Token) int {
		return userinfoAnswer(t, tg, tok.AccessToken).Status
	}
	assert.Equal(t, http.StatusOK, userinfo(token))
	tg.Stub.Advance(61 * time.Second)
	expired := userinfoAnswer(t, tg, token.AccessToken)
	assert.Equal(t, http.StatusBadRequest, expired.Status, "the access token has expired")
	// Expired is invalid, as malformed is (LIKELY userinfo-invalid-token, FUSIONAUTH.md).
	assert.JSONEq(t, `{"error":"invalid_token","error_reason":"access_token_invalid","error_description":"The access token is invalid or expired."}`, expired.Body)

	refreshed, err := c.config.TokenSource(ctx, &oauth2.Token{RefreshToken: token.RefreshToken}).Token()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, userinfo(refreshed))

	tg.Stub.Advance(10 * time.Minute)
	_, err = c.config.TokenSource(ctx, &oauth2.Token{RefreshToken: token.RefreshToken}).Token()
	te := asTokenError(t, err)
	assert.Equal(t, "invalid_grant", te.Error, "the refresh token has expired")
}

func TestRequestsAreRecorded(t *testing.T) {
	tg := stub(t)
	c := newClient(t, testContext(t), tg)
	r := runFlow(t, c)
	require.NoError(t, r.verifyErr)

	var token *fusionauthtest.Request
	for _, rec := range tg.Stub.Requests() {
		if rec.Method == http.MethodPost && rec.Path == "/oauth2/token" {
			token = &rec
		}
	}
	require.NotNil(t, token, "the token request is recorded")
	assert.Equal(t, "authorization_code", token.Form.Get("grant_type"))
	assert.Equal(t, r.req.Verifier, token.Form.Get("code_verifier"))
	assert.True(t, strings.HasPrefix(token.Header.Get("Authorization"), "Basic "))
	assert.Equal(t, 1, countRequests(tg.Stub.Requests(), http.MethodGet, "/oauth2/authorize"))

	tg.Stub.ResetRequests()
	assert.Empty(t, tg.Stub.Requests())
}

// TestEveryResponseNamesTheStandin: successes, errors, pages, redirects and
// unknown paths all carry the stand-in's header.
func TestEveryResponseNamesTheStandin(t *testing.T) {
	tg := stub(t)
	c := newClient(t, testContext(t), tg)
	b := newBrowser(t)
	pages := map[string]page{
		"status":                 b.get(t, tg.URL+"/api/status"),
		"discovery":              b.get(t, tg.URL+"/.well-known/openid-configuration"),
		"login page":             b.get(t, c.authorizeURL(newLoginRequest())),
		"authorize error page":   b.get(t, tg.URL+"/oauth2/authorize?client_id=nobody"),
		"token error":            b.postForm(t, tg.URL+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}}),
		"userinfo without token": b.get(t, tg.URL+"/oauth2/userinfo"),
		"admin API without key":  b.get(t, tg.URL+"/api/application/"+tg.ClientID),
		"logout":                 b.get(t, tg.URL+"/oauth2/logout?client_id="+tg.ClientID),
		"Logout API":             postLogoutAPI(t, tg, nil, "", "", nil),
		"unknown path":           b.get(t, tg.URL+"/no/such/path"),
	}
	for name, p := range pages {
		assert.Equal(t, fusionauthtest.StandinHeaderValue, p.Header.Get(fusionauthtest.StandinHeader), "%s (status %d)", name, p.Status)
	}
	assert.Equal(t, "X-Changebank-Standin", fusionauthtest.StandinHeader)
}

func TestDiscoveryFollowsForwardedHeaders(t *testing.T) {
	tg := stub(t)
	req := httptest.NewRequest(http.MethodGet, "/.well-known/openid-configuration", nil)
	req.Host = "internal:9011"
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", "login.example.com")
	rec := httptest.NewRecorder()
	tg.Stub.ServeHTTP(rec, req)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
	assert.Equal(t, "https://login.example.com/oauth2/token", doc["token_endpoint"])
	assert.Equal(t, tg.URL, doc["issuer"], "the issuer is the tenant's, not the request's")
}

func TestStartServesUntilClosed(t *testing.T) {
	s, err := fusionauthtest.Start("127.0.0.1:0", fusionauthtest.Options{KickstartPath: projectKickstart})
	require.NoError(t, err)
	t.Cleanup(s.Close) // should an assertion stop the test before the Close below
	resp, err := http.Get(s.URL() + "/api/status")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "http://localhost:9011", s.Issuer(), "Start keeps the kickstart's issuer")
	s.Close()
	_, err = http.Get(s.URL() + "/api/status")
	assert.Error(t, err, "closed")
}

func TestNewServerLeavesNoSocketOpen(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("counts open files through /proc/self/fd, which this system does not have")
	}
	openFiles := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		require.NoError(t, err)
		return len(entries)
	}
	// A socket nobody closes is closed by its finalizer once the garbage collector
	// runs; without it, each one stays open and is counted.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	const servers = 5
	before := openFiles()
	for i := range servers {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			s := fusionauthtest.NewServer(t, fusionauthtest.Options{KickstartPath: projectKickstart})
			resp, err := http.Get(s.URL() + "/api/status")
			require.NoError(t, err)
			resp.Body.Close()
		})
	}
	http.DefaultClient.CloseIdleConnections()
	assert.Less(t, openFiles()-before, servers, "open files after %d servers came and went", servers)
}

func TestRefusedApplicationPatchChangesNothing(t *testing.T) {
	tests := []struct {
		name string
		jwt  map[string]any
	}{
		{"a signing key that does not exist", map[string]any{"accessTokenKeyId": "00000000-0000-4000-8000-00000000dead", "timeToLiveInSeconds": 5}},
		{"a lifetime that is not a number", map[string]any{"timeToLiveInSeconds": "five", "refreshTokenTimeToLiveInMinutes": 1}},
	}
	tg := stub(t)
	path := "/api/application/" + tg.ClientID
	status, before := adminRequest(t, tg, http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, status)
	require.NotEmpty(t, before["application"], "GET %s", path)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _ := adminRequest(t, tg, http.MethodPatch, path, map[string]any{
				"application": map[string]any{"jwtConfiguration": tt.jwt},
			})
			assert.Equal(t, http.StatusBadRequest, status, "PATCH jwtConfiguration %v", tt.jwt)
			status, after := adminRequest(t, tg, http.MethodGet, path, nil)
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, before, after, "the application after a refused PATCH")
		})
	}
	c := newClient(t, testContext(t), tg)
	code, req := logIn(t, c, newBrowser(t))
	token, err := c.config.Exchange(testContext(t), code, oauth2.VerifierOption(req.Verifier))
	require.NoError(t, err, "tokens are still issued after the refused PATCHes")
	assert.InDelta(t, 3600, time.Until(token.Expiry).Seconds(), 5, "the kickstart's lifetime still holds")
}

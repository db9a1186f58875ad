package fusionauthtest_test

// Contract tests of logout: the end-session endpoint and the Logout API.

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// logoutFrames are the iframe URLs of a "Logging out" page.
func logoutFrames(t testing.TB, body string) []*url.URL {
	t.Helper()
	var frames []*url.URL
	for _, m := range regexp.MustCompile(`<iframe[^>]*src="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		u, err := url.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
		require.NoError(t, err, "iframe src %q", m[1])
		frames = append(frames, u)
	}
	return frames
}

// TestContractSSOSessionEndsAtLogout: "Keep me signed in" lets the next
// authorization request through without the login page, until logout.
func TestContractSSOSessionEndsAtLogout(t *testing.T) {
	tg := newTarget(t)
	ctx := testContext(t)
	c := newClient(t, ctx, tg)
	b := newBrowser(t)

	code, req := logIn(t, c, b)
	token, err := c.config.Exchange(ctx, code, oauth2.VerifierOption(req.Verifier))
	require.NoError(t, err)

	again := newLoginRequest()
	q := callback(t, tg, b.authorize(t, tg, c.authorizeURL(again)))
	assert.Equal(t, again.State, q.Get("state"), "SSO: straight back with a code")
	require.NotEmpty(t, q.Get("code"))
	ssoToken, err := c.config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(again.Verifier))
	require.NoError(t, err)
	ssoID, err := c.verifier.Verify(ctx, ssoToken.Extra("id_token").(string))
	require.NoError(t, err)
	likely(t, tg, "authenticationType of a login through the SSO session (LIKELY sso-login-ping)", "PING", tokenClaims(t, ssoID)["authenticationType"])

	var endSession struct {
		URL string `json:"end_session_endpoint"`
	}
	require.NoError(t, c.provider.Claims(&endSession))
	logout := endSession.URL + "?" + url.Values{
		"client_id":                {tg.ClientID},
		"id_token_hint":            {token.Extra("id_token").(string)},
		"post_logout_redirect_uri": {tg.LogoutURL},
		"state":                    {"logout-state"},
	}.Encode()
	p := b.get(t, logout)
	// The kickstart keeps the default logoutBehavior, AllApplications.
	require.Equal(t, http.StatusOK, p.Status, "the Logging out page")
	assert.Regexp(t, `(?i)http-equiv="refresh"`, p.Body)
	assert.Contains(t, p.Body, tg.LogoutURL+"?state=logout-state", "redirect to post_logout_redirect_uri with state")

	var framedApp, framedAdmin bool
	for _, frame := range logoutFrames(t, p.Body) {
		switch {
		case strings.HasPrefix(frame.String(), tg.LogoutURL):
			framedApp = true
		case frame.Path == "/admin/single-logout":
			// Its plain logoutURL (LIKELY logout-frames-sid, FUSIONAUTH.md).
			framedAdmin = true
			likely(t, tg, "the admin application's iframe carries iss (LIKELY logout-frames-sid)", "", frame.Query().Get("iss"))
			likely(t, tg, "the admin application's iframe carries sid (LIKELY logout-frames-sid)", false, frame.Query().Has("sid"))
		}
	}
	likely(t, tg, "the application the page redirects to is also framed (LIKELY logout-frames)", false, framedApp)
	likely(t, tg, "the FusionAuth admin application is framed (LIKELY logout-frames)", true, framedAdmin)

	after := b.get(t, c.authorizeURL(newLoginRequest()))
	assert.Equal(t, http.StatusOK, after.Status, "after logout the login page is shown again")
	assert.Contains(t, after.Body, `id="loginId"`)
}

func TestContractPostLogoutRedirectMustBeAuthorized(t *testing.T) {
	tg := newTarget(t)
	p := newBrowser(t).get(t, tg.URL+"/oauth2/logout?"+url.Values{
		"client_id":                {tg.ClientID},
		"post_logout_redirect_uri": {"https://evil.example.com/"},
	}.Encode())
	assert.False(t, p.Status >= 300 && p.Status < 400, "no redirect to an unauthorized URL; got %d to %s", p.Status, p.Location)
	assert.NotContains(t, p.Body, `url=https://evil.example.com`)
}

// TestContractLogoutRequests: what FusionAuth does with an id_token_hint, and
// without any client.
func TestContractLogoutRequests(t *testing.T) {
	tg := newTarget(t)
	ctx := testContext(t)
	c := newClient(t, ctx, tg)
	token := logInForTokens(t, c, newBrowser(t))
	hint := token.Extra("id_token").(string)
	tampered := hint[:len(hint)-4] + "AAAA"

	idToken, err := c.verifier.Verify(ctx, hint)
	require.NoError(t, err)
	hintSID, _ := tokenClaims(t, idToken)["sid"].(string)
	require.NotEmpty(t, hintSID, "a login with \"Keep me signed in\" has an SSO session for the hint to name")

	// All modelled: entry names each case's FUSIONAUTH.md entry.
	tests := []struct {
		name        string
		entry       string
		params      url.Values
		wantStatus  int
		wantReason  string
		wantTarget  string // a redirect's Location
		wantRefresh string // the "Logging out" page's meta refresh
	}{
		{name: "no client_id and no hint", entry: "LIKELY logout-without-client", params: url.Values{"post_logout_redirect_uri": {tg.LogoutURL}},
			wantStatus: http.StatusFound, wantTarget: "/"},
		{name: "a hint that does not verify, with client_id", entry: "LIKELY logout-hint-checked", params: url.Values{"client_id": {tg.ClientID}, "id_token_hint": {tampered}},
			wantStatus: http.StatusBadRequest, wantReason: "invalid_id_token_hint"},
		{name: "a hint for another client", entry: "LIKELY logout-hint-checked", params: url.Values{"client_id": {"3c219e58-ed0e-4b18-ad48-f4f92793ae32"}, "id_token_hint": {hint}},
			wantStatus: http.StatusBadRequest, wantReason: "invalid_id_token_hint"},
		{name: "no post_logout_redirect_uri", entry: "LIKELY logout-frames-sid", params: url.Values{"client_id": {tg.ClientID}, "id_token_hint": {hint}, "state": {"s"}},
			wantStatus: http.StatusOK, wantRefresh: tg.LogoutURL + "?" + "iss=" + url.QueryEscape(tg.URL) + "&sid=" + url.QueryEscape(hintSID) + "&state=s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newBrowser(t).get(t, tg.URL+"/oauth2/logout?"+tt.params.Encode())
			cite := " (" + tt.entry + ")"
			likely(t, tg, tt.name+": status"+cite, tt.wantStatus, p.Status)
			if tt.wantTarget != "" {
				likely(t, tg, tt.name+": redirect target"+cite, tt.wantTarget, p.Location)
			}
			if tt.wantRefresh != "" {
				likely(t, tg, tt.name+": the page's final redirect"+cite, tt.wantRefresh, metaRefreshURL(p.Body))
			}
			if tt.wantReason != "" {
				likely(t, tg, tt.name+": the error page names "+tt.wantReason+cite, true, strings.Contains(p.Body, tt.wantReason))
			}
		})
	}
}

var metaRefresh = regexp.MustCompile(`(?i)<meta[^>]*http-equiv="refresh"[^>]*content="[^"]*url=([^"]*)"`)

// metaRefreshURL is where a page's meta refresh goes, "" without one.
func metaRefreshURL(body string) string {
	m := metaRefresh.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// refreshWorks reports whether the refresh grant accepts refreshToken.
func refreshWorks(t testing.TB, c client, refreshToken string) bool {
	t.Helper()
	status, _ := refreshRaw(t, c, refreshToken)
	return status == http.StatusOK
}

// postLogoutAPI calls the Logout API, POST /api/logout, with no API key, and
// returns its answer.
func postLogoutAPI(t testing.TB, tg target, query url.Values, contentType, body string, cookie *http.Cookie) page {
	t.Helper()
	rawURL := tg.URL + "/api/logout"
	if len(query) > 0 {
		rawURL += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, rawURL, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	return newBrowser(t).do(t, req)
}

// TestContractLogoutAPIRevokesTheRefreshToken: POST /api/logout needs no API
// key and revokes the refresh token however it is given.
func TestContractLogoutAPIRevokesTheRefreshToken(t *testing.T) {
	tests := []struct {
		name string
		call func(t *testing.T, tg target, refreshToken string) page
		// documented: the query string (FusionAuth's own clients), the JSON
		// body and the cookie (CERTAIN logout-api); the rest only as the
		// stand-in models it, following entry.
		documented bool
		entry      string
	}{
		{"query string", func(t *testing.T, tg target, rt string) page {
			return postLogoutAPI(t, tg, url.Values{"global": {"false"}, "refreshToken": {rt}}, "", "", nil)
		}, true, ""},
		{"form body", func(t *testing.T, tg target, rt string) page {
			return postLogoutAPI(t, tg, nil, "application/x-www-form-urlencoded", url.Values{"refreshToken": {rt}}.Encode(), nil)
		}, false, "LIKELY logout-api-form-body"},
		{"JSON body", func(t *testing.T, tg target, rt string) page {
			return postLogoutAPI(t, tg, nil, "application/json", `{"global":false,"refreshToken":"`+rt+`"}`, nil)
		}, true, ""},
		{"refresh_token cookie", func(t *testing.T, tg target, rt string) page {
			return postLogoutAPI(t, tg, nil, "", "", &http.Cookie{Name: "refresh_token", Value: rt})
		}, true, ""},
		{"X-FusionAuth-TenantId of another tenant", func(t *testing.T, tg target, rt string) page {
			req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, tg.URL+"/api/logout?"+url.Values{"refreshToken": {rt}}.Encode(), nil)
			require.NoError(t, err)
			req.Header.Set("X-FusionAuth-TenantId", "00000000-0000-4000-8000-00000000a7e1")
			return newBrowser(t).do(t, req)
		}, false, "LIKELY logout-api-any-tenant"},
	}
	tg := newTarget(t)
	c := newClient(t, testContext(t), tg)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := logInForTokens(t, c, newBrowser(t))
			p := tt.call(t, tg, token.RefreshToken)
			if !tt.documented {
				cite := " (" + tt.entry + ")"
				likely(t, tg, tt.name+": status"+cite, http.StatusOK, p.Status)
				likely(t, tg, tt.name+": body"+cite, "", p.Body)
				likely(t, tg, tt.name+": the refresh token is revoked"+cite, true, !refreshWorks(t, c, token.RefreshToken))
				return
			}
			assert.Equal(t, http.StatusOK, p.Status, "POST /api/logout")
			assert.Empty(t, p.Body, "the Logout API answers with no body")
			requireRefreshRefused(t, c, token.RefreshToken, "revoked through the Logout API by "+tt.name)
		})
	}

	t.Run("nothing to revoke", func(t *testing.T) {
		p := postLogoutAPI(t, tg, url.Values{"refreshToken": {"not-a-refresh-token"}}, "", "", nil)
		assert.Equal(t, http.StatusOK, p.Status, "POST /api/logout with an unknown token")
		assert.Empty(t, p.Body)
		p = postLogoutAPI(t, tg, nil, "", "", nil)
		assert.Equal(t, http.StatusOK, p.Status, "POST /api/logout with no token at all")
	})

	t.Run("another token of the user survives", func(t *testing.T) {
		revoked := logInForTokens(t, c, newBrowser(t))
		kept := logInForTokens(t, c, newBrowser(t))
		p := postLogoutAPI(t, tg, url.Values{"refreshToken": {revoked.RefreshToken}}, "", "", nil)
		require.Equal(t, http.StatusOK, p.Status)
		requireRefreshRefused(t, c, revoked.RefreshToken, "revoked through the Logout API")
		_, err := c.config.TokenSource(testContext(t), &oauth2.Token{RefreshToken: kept.RefreshToken}).Token()
		assert.NoError(t, err, "global=false leaves the user's other refresh tokens alone")
	})
}

// TestContractLogoutAPIGlobal: global=true revokes every refresh token of the
// user and ends their SSO sessions.
func TestContractLogoutAPIGlobal(t *testing.T) {
	tg := newTarget(t)
	c := newClient(t, testContext(t), tg)
	given := logInForTokens(t, c, newBrowser(t))
	other := newBrowser(t)
	otherToken := logInForTokens(t, c, other)

	p := postLogoutAPI(t, tg, url.Values{"global": {"true"}, "refreshToken": {given.RefreshToken}}, "", "", nil)
	require.Equal(t, http.StatusOK, p.Status, "POST /api/logout?global=true")
	assert.Empty(t, p.Body)
	requireRefreshRefused(t, c, given.RefreshToken, "revoked through the Logout API")
	requireRefreshRefused(t, c, otherToken.RefreshToken, "of a user logged out globally")

	again := other.get(t, c.authorizeURL(newLoginRequest()))
	assert.Equal(t, http.StatusOK, again.Status, "the other browser's SSO session has ended: the login page")
	assert.Contains(t, again.Body, `id="loginId"`)
}

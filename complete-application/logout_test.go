package main

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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

// copyOfCookies is another browser holding the same cookies as a: what
// someone who copied them would have.
func (a *testApp) copyOfCookies() *testApp {
	a.t.Helper()
	c := a.newBrowser()
	u, err := url.Parse(a.url)
	require.NoError(a.t, err)
	c.client.Jar.SetCookies(u, a.client.Jar.Cookies(u))
	return c
}

// TestLogoutRevokesTheRefreshToken: logout revokes the refresh token with
// FusionAuth's Logout API before it sends the browser to end FusionAuth's
// session, so a copy of the cookies taken before logout dies once its access
// token expires: FusionAuth refuses its refresh. The control copies the
// cookies the same way without a logout, and the copy is refreshed.
func TestLogoutRevokesTheRefreshToken(t *testing.T) {
	for _, logOut := range []bool{true, false} {
		t.Run(fmt.Sprintf("logout=%t", logOut), func(t *testing.T) {
			idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
			app := newTestApp(t, idp)
			app.login()
			refreshToken, err := app.auth.cookies.open(refreshTokenCookie, app.cookie(refreshTokenCookie))
			require.NoError(t, err)
			copied := app.copyOfCookies()

			if logOut {
				idp.ResetRequests()
				resp := app.post("/logout", nil)
				require.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
				var revocations []fusionauthtest.Request
				for _, r := range idp.Requests() {
					if r.Path == "/api/logout" {
						revocations = append(revocations, r)
					}
				}
				require.Len(t, revocations, 1, "one call to the Logout API")
				assert.Equal(t, http.MethodPost, revocations[0].Method)
				assert.Empty(t, revocations[0].Header.Get("Authorization"), "the Logout API needs no API key")
				assert.Empty(t, revocations[0].Query, "the refresh token is not in the URL")
				assert.JSONEq(t, fmt.Sprintf(`{"global":false,"refreshToken":%q}`, refreshToken), string(revocations[0].Body))
			}

			idp.Advance(61 * time.Minute) // Past the kickstart's one-hour access tokens.
			idp.ResetRequests()
			resp := copied.getAfterRetry("/account")
			assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the copy's refresh at FusionAuth")
			if !logOut {
				assert.Equal(t, http.StatusOK, resp.StatusCode, "without logout the copy lives on: %s", resp.body)
				return
			}
			assertRefreshEndedSession(t, resp, copied, idp)
		})
	}
}

// Refreshing an expired access token: the new tokens are verified like a
// login's and must belong to the same authentication, a refused refresh ends
// the session, and tabs or replicas racing to refresh stay logged in.

package main

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRefreshesExpiredAccessToken lets the access token expire and checks the
// next page refreshes it transparently, verifying the new tokens.
func TestRefreshesExpiredAccessToken(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	oldAccessToken := app.cookie("cb_access_token")

	idp.Advance(61 * time.Minute)
	idp.ResetRequests()
	account := app.get("/account")
	require.Equal(t, http.StatusOK, account.StatusCode, account.body)
	assert.Equal(t, testUserEmail, elementText(account.body, "email"))
	assert.NotEqual(t, oldAccessToken, app.cookie("cb_access_token"), "the access token cookie was replaced")
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "one refresh")

	// The refreshed session is good without further calls.
	idp.ResetRequests()
	assert.Equal(t, http.StatusOK, app.get("/account").StatusCode)
	assert.Empty(t, idp.Requests())
}

// TestRefreshRefusalsEndTheSession: a refreshed ID token for another issuer,
// subject or audience ends the session: every session cookie is deleted,
// /account refuses, and FusionAuth hears nothing more. The positive control
// refreshes the same way against a correct FusionAuth.
func TestRefreshRefusalsEndTheSession(t *testing.T) {
	tests := []struct {
		name  string
		fault fusionauthtest.Fault // 0: none, the positive control
	}{
		{"NoFault", 0},
		{fusionauthtest.FaultRefreshIDTokenWrongIssuer.String(), fusionauthtest.FaultRefreshIDTokenWrongIssuer},
		{fusionauthtest.FaultRefreshIDTokenWrongSubject.String(), fusionauthtest.FaultRefreshIDTokenWrongSubject},
		{fusionauthtest.FaultRefreshIDTokenWrongAudience.String(), fusionauthtest.FaultRefreshIDTokenWrongAudience},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
			app := newTestApp(t, idp)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			if tt.fault != 0 {
				idp.InjectFault(tt.fault)
			}
			idp.Advance(61 * time.Minute) // Past the kickstart's one-hour access tokens.
			idp.ResetRequests()

			resp := app.get("/account")
			assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "one refresh request")
			if tt.fault == 0 {
				assert.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
				assert.Equal(t, testUserEmail, elementText(resp.body, "email"))
				assert.Equal(t, http.StatusOK, app.get("/account").StatusCode)
				assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the refreshed session needs no further call")
				return
			}
			assertRefreshEndedSession(t, resp, app, idp)
		})
	}
}

// TestExpiredRefreshTokenEndsSession: when FusionAuth refuses the refresh
// token (invalid_grant), the user is logged out.
func TestExpiredRefreshTokenEndsSession(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	idp.Advance(31 * 24 * time.Hour) // Past the kickstart's 30-day refresh token lifetime.
	idp.ResetRequests()
	resp := app.getAfterRetry("/account")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the refresh FusionAuth refused")
	for _, name := range []string{"cb_access_token", "cb_refresh_token", "cb_id_token", "cb_user"} {
		assert.Empty(t, app.cookie(name), "cookie %s after a refused refresh", name)
	}
}

// TestRefreshWithoutIDToken: a refresh response may omit the ID token
// (OpenID Connect Core 12.2). The session keeps the login's user and ID
// token, and logout still sends that ID token as id_token_hint.
func TestRefreshWithoutIDToken(t *testing.T) {
	front := newIDPFront(t)
	app := front.newApp(t)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
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

// TestRefreshAfterKeyRotationFetchesTheKeysOnce: tokens refreshed after
// FusionAuth rotates its signing key verify after exactly one fetch of the
// key set, and the session carries on.
func TestRefreshAfterKeyRotationFetchesTheKeysOnce(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	for rotation := 1; rotation <= 2; rotation++ {
		_, err := idp.RotateKey()
		require.NoError(t, err)
		idp.Advance(61 * time.Minute)
		idp.ResetRequests()

		resp := app.get("/account")
		assert.Equal(t, http.StatusOK, resp.StatusCode, "rotation %d: %s", rotation, resp.body)
		assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "rotation %d: one refresh", rotation)
		assert.Equal(t, 1, requestsTo(idp, "/.well-known/jwks.json"), "rotation %d: one key set fetch", rotation)

		resp = app.get("/account")
		assert.Equal(t, http.StatusOK, resp.StatusCode, "rotation %d, next request", rotation)
		assert.Equal(t, 1, requestsTo(idp, "/.well-known/jwks.json"), "rotation %d: the new key is cached", rotation)
	}
}

// TestRefreshRefusesTokensFromAnotherAuthentication: a refresh answer that is
// valid in itself (signed, fresh, for this client, at_hash matching) but
// belongs to another authentication ends the session: another user's
// refreshed tokens fail the subject check, the same user's tokens from
// another login fail the nonce check (OpenID Connect Core 12.2), and an
// answer with no ID token must still carry this user's access token.
func TestRefreshRefusesTokensFromAnotherAuthentication(t *testing.T) {
	tests := []struct {
		name string
		// steal returns a token answer from another authentication, made
		// after the victim's access token expired.
		steal func(t *testing.T, front *idpFront, victim *testApp) map[string]any
	}{
		{"none: the positive control", nil},
		{"another user's refreshed tokens", func(t *testing.T, front *idpFront, victim *testApp) map[string]any {
			return otherUsersRefresh(t, front, victim)
		}},
		{"the same user's tokens from another login", func(t *testing.T, front *idpFront, victim *testApp) map[string]any {
			front.idp.Advance(61 * time.Minute)
			other := victim.newBrowser()
			require.NoError(t, other.logInAs(testUserEmail, testUserPassword))
			return front.lastAnswer("authorization_code")
		}},
		{"another user's access token, without an ID token", func(t *testing.T, front *idpFront, victim *testApp) map[string]any {
			stolen := otherUsersRefresh(t, front, victim)
			delete(stolen, "id_token") // OpenID Connect Core 12.2 lets a refresh answer omit it.
			return stolen
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			front := newIDPFront(t)
			victim := front.newApp(t)
			require.NoError(t, victim.logInAs(testUserEmail, testUserPassword))
			if tt.steal == nil {
				front.idp.Advance(61 * time.Minute)
			} else {
				stolen := tt.steal(t, front, victim)
				front.setTokenRewrite(func(grant string, body map[string]any) {
					if grant == "refresh_token" {
						clear(body)
						maps.Copy(body, stolen)
					}
				})
			}
			front.idp.ResetRequests()

			resp := victim.get("/account")
			assert.Equal(t, 1, requestsTo(front.idp, "/oauth2/token"), "one refresh request")
			if tt.steal == nil {
				assert.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
				assert.Equal(t, testUserEmail, elementText(resp.body, "email"))
				return
			}
			assertRefreshEndedSession(t, resp, victim, front.idp)
		})
	}
}

// otherUsersRefresh logs another user in, lets the access tokens expire and
// returns that user's refresh answer.
func otherUsersRefresh(t *testing.T, front *idpFront, victim *testApp) map[string]any {
	t.Helper()
	const email, password = "mallory@example.com", "mallory-password"
	registerUser(t, front.idp, "00000000-0000-4000-8000-00000000a11c", email, password)
	other := victim.newBrowser()
	callback, err := other.loginCallback(email, password)
	require.NoError(t, err)
	require.Equal(t, http.StatusSeeOther, other.get(callback).StatusCode)
	front.idp.Advance(61 * time.Minute)
	require.Equal(t, http.StatusOK, other.get("/account").StatusCode, "the other user's refresh")
	return front.lastAnswer("refresh_token")
}

// TestRefreshRefusesNonBearerTokens: a refresh answer whose token_type is not
// Bearer ends the session, with or without a new ID token.
func TestRefreshRefusesNonBearerTokens(t *testing.T) {
	for _, tt := range []struct {
		name        string
		withIDToken bool
	}{{"with an ID token", true}, {"without an ID token", false}} {
		t.Run(tt.name, func(t *testing.T) {
			front := newIDPFront(t)
			app := front.newApp(t)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			front.setTokenRewrite(func(grant string, body map[string]any) {
				if grant == "refresh_token" {
					body["token_type"] = "DPoP"
					if !tt.withIDToken {
						delete(body, "id_token")
					}
				}
			})
			front.idp.Advance(61 * time.Minute)
			front.idp.ResetRequests()

			resp := app.get("/account")
			assertRefreshEndedSession(t, resp, app, front.idp)
		})
	}
}

// TestRefreshRefusesAMalformedIDToken: a refresh answer may leave the ID
// token out, but one that is there must be a string that verifies; anything
// else ends the session rather than counting as no ID token.
func TestRefreshRefusesAMalformedIDToken(t *testing.T) {
	for _, idToken := range []any{42, true, map[string]any{"sub": "x"}, []string{"a.b.c"}} {
		t.Run(fmt.Sprintf("%T", idToken), func(t *testing.T) {
			front := newIDPFront(t)
			app := front.newApp(t)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			front.setTokenRewrite(func(grant string, body map[string]any) {
				if grant == "refresh_token" {
					body["id_token"] = idToken
				}
			})
			front.idp.Advance(61 * time.Minute)
			front.idp.ResetRequests()

			resp := app.get("/account")
			assertRefreshEndedSession(t, resp, app, front.idp)
		})
	}
}

// refreshTokenPolicies are FusionAuth's two refresh token usage policies:
// Reusable (the kickstart's default) and OneTimeUse, which swaps the refresh
// token for a new one at every refresh.
var refreshTokenPolicies = []string{"Reusable", "OneTimeUse"}

// setRefreshTokenPolicy sets the Changebank application's policy through
// the admin API, as an administrator would.
func setRefreshTokenPolicy(t *testing.T, idp *fusionauthtest.Server, policy string) {
	t.Helper()
	callAdminAPI(t, idp, http.MethodPatch, "/api/application/"+testClientID, map[string]any{"application": map[string]any{
		"jwtConfiguration": map[string]any{"refreshTokenUsagePolicy": policy},
	}})
}

// TestTabsRefreshingTogetherStayLoggedIn: several tabs of one browser whose
// access token expired send their requests at the same moment, all with the
// same cookies. All of them are served, with one refresh at FusionAuth, and
// under OneTimeUse nobody presents the used-up refresh token again.
func TestTabsRefreshingTogetherStayLoggedIn(t *testing.T) {
	const tabs = 8
	for _, policy := range refreshTokenPolicies {
		t.Run(policy, func(t *testing.T) {
			idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
			setRefreshTokenPolicy(t, idp, policy)
			app := newTestApp(t, idp)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			oldRefreshToken := app.cookie(refreshTokenCookie)
			idp.Advance(61 * time.Minute)
			idp.ResetRequests()

			tabClients := make([]*testApp, tabs)
			for i := range tabClients {
				tabClients[i] = app.copyOfCookies()
			}
			statuses := make([]int, tabs)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, tab := range tabClients {
				wg.Go(func() {
					<-start
					resp, err := tab.client.Get(app.url + "/account")
					if err == nil {
						statuses[i] = resp.StatusCode
						resp.Body.Close()
					}
				})
			}
			close(start)
			wg.Wait()

			for i, status := range statuses {
				assert.Equal(t, http.StatusOK, status, "tab %d", i)
			}
			assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "one refresh for all tabs")
			for i, tab := range tabClients {
				assert.Equal(t, testUserEmail, elementText(tab.get("/account").body, "email"), "tab %d afterwards", i)
			}
			if policy == "OneTimeUse" {
				assert.NotEqual(t, oldRefreshToken, tabClients[0].cookie(refreshTokenCookie), "a new refresh token")
			}
		})
	}
}

// TestRequestSentBeforeTheNewCookiesIsServed: a request that left the
// browser before the answer to a refresh came back still carries the old
// cookies; it gets the same new tokens instead of a refresh of its own.
func TestRequestSentBeforeTheNewCookiesIsServed(t *testing.T) {
	for _, policy := range refreshTokenPolicies {
		t.Run(policy, func(t *testing.T) {
			idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
			setRefreshTokenPolicy(t, idp, policy)
			app := newTestApp(t, idp)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			idp.Advance(61 * time.Minute)
			late := app.copyOfCookies()
			idp.ResetRequests()

			require.Equal(t, http.StatusOK, app.get("/account").StatusCode, "the first tab refreshes")
			idp.Advance(refreshShareWindow / 2)
			resp := late.get("/account")
			assert.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
			assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the late request shares the refresh")
			assert.Equal(t, app.cookie(refreshTokenCookie) != "", late.cookie(refreshTokenCookie) != "")
		})
	}
}

// TestLostRefreshRaceOnAnotherReplicaKeepsTheWinnersCookies: under
// OneTimeUse, one tab's refresh on one replica uses up the refresh token; a
// second tab's request with the old cookies reaches another replica, which
// cannot know, and FusionAuth refuses it. That answer must not delete the
// cookies the first tab just received: it asks the browser to retry, and
// the retry, with the new cookies, is served. The control shows that a
// refused token with no winner still ends the session after that one retry.
func TestLostRefreshRaceOnAnotherReplicaKeepsTheWinnersCookies(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	setRefreshTokenPolicy(t, idp, "OneTimeUse")
	// The replicas run on the real clock, so the login's access token
	// expires for real; the refreshed ones last the rest of the test.
	setLifetime := func(seconds int) {
		callAdminAPI(t, idp, http.MethodPatch, "/api/application/"+testClientID, map[string]any{"application": map[string]any{
			"jwtConfiguration": map[string]any{"timeToLiveInSeconds": seconds},
		}})
	}
	const lifetime = 2 * time.Second
	setLifetime(int(lifetime.Seconds()))
	lb := startReplicas(t, idp, testSecretKey, testSecretKey)
	browser := &testApp{t: t, url: lb.url, idp: idp, client: newBrowserClient(t)}
	lb.use(0)
	require.NoError(t, browser.logInAs(testUserEmail, testUserPassword))
	time.Sleep(lifetime + 100*time.Millisecond)
	setLifetime(3600)
	secondTab := browser.copyOfCookies()
	stale := browser.copyOfCookies() // for the control

	lb.use(0)
	require.Equal(t, http.StatusOK, browser.get("/account").StatusCode, "the first tab refreshes on replica 0")
	lb.use(1)
	idp.ResetRequests()
	resp := secondTab.get("/account?tab=2")
	require.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode, "replica 1 asks for a retry: %s", resp.body)
	assert.Equal(t, "/account?tab=2", resp.Header.Get("Location"), "the same request again")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	for _, c := range resp.Cookies() {
		assert.NotContains(t, sessionCookies, c.Name, "the refused request leaves the session's cookies alone")
	}
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the refused refresh")

	// By the retry, the browser holds the first tab's new cookies.
	u, err := url.Parse(lb.url)
	require.NoError(t, err)
	secondTab.client.Jar.SetCookies(u, browser.client.Jar.Cookies(u))
	retry := secondTab.get("/account?tab=2")
	assert.Equal(t, http.StatusOK, retry.StatusCode, retry.body)
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the retry needs no refresh")

	// The control: nobody renewed this copy's cookies, so its retry is
	// refused again and the session ends, without a loop.
	lb.use(1)
	resp = stale.getAfterRetry("/account")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assertDeletesSession(t, resp.Response)
}

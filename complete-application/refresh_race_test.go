package main

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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

// Refreshing a session: an expired access token is refreshed with the
// session's refresh token and the answer checked like a login's (Bearer, an
// ID token for the same user and login, at_hash, the access token itself);
// a refused refresh ends the session; requests of one session share one
// refresh, so tabs racing to refresh stay logged in under both of
// FusionAuth's refresh token policies.

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
	before := app.record()
	oldAccessToken := app.cookie(accessTokenCookie)

	idp.Advance(61 * time.Minute)
	idp.ResetRequests()
	account := app.get("/account")
	require.Equal(t, http.StatusOK, account.StatusCode, account.body)
	assert.Equal(t, testUserEmail, elementText(account.body, "email"))
	assert.NotEqual(t, oldAccessToken, app.cookie(accessTokenCookie), "the access token cookie was replaced")
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "one refresh")
	assert.Equal(t, "no-store", account.Header.Get("Cache-Control"))
	after := app.record()
	assert.Equal(t, before.ID, after.ID, "the same session")
	assert.True(t, before.StartedAt.Equal(after.StartedAt), "the lifetime still counts from the login")

	// The refreshed session is good without further calls.
	idp.ResetRequests()
	assert.Equal(t, http.StatusOK, app.get("/account").StatusCode)
	assert.Empty(t, idp.Requests())
}

// TestRefreshRefusalsEndTheSession: a refreshed ID token for another issuer,
// subject or audience ends the session: every session cookie is deleted,
// /account refuses, FusionAuth hears nothing more, and the app logs the
// check that refused it. The positive control refreshes the same way
// against a correct FusionAuth.
func TestRefreshRefusalsEndTheSession(t *testing.T) {
	tests := []struct {
		name   string
		fault  fusionauthtest.Fault // 0: none, the positive control
		reason string               // in the reason the app logs for ending the session
	}{
		{"NoFault", 0, ""},
		{fusionauthtest.FaultRefreshIDTokenWrongIssuer.String(), fusionauthtest.FaultRefreshIDTokenWrongIssuer,
			"refreshed tokens that failed a check: verifying ID token: oidc: id token issued by a different provider"},
		// The stand-in changes the ID token's sub alone, so its access
		// token, still the user's, is not the ID token's user's: that check
		// comes first. TestRefreshRefusesTokensFromAnotherAuthentication
		// reaches the check of the session's user.
		{fusionauthtest.FaultRefreshIDTokenWrongSubject.String(), fusionauthtest.FaultRefreshIDTokenWrongSubject,
			"refreshed tokens that failed a check: access token is for another user than the session"},
		{fusionauthtest.FaultRefreshIDTokenWrongAudience.String(), fusionauthtest.FaultRefreshIDTokenWrongAudience,
			`expected audience "` + testClientID + `" got ["00000000-0000-4000-8000-0000000e7111"]`},
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
			if tt.fault == 0 {
				assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "one refresh request")
				assert.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
				assert.Equal(t, testUserEmail, elementText(resp.body, "email"))
				assert.Equal(t, http.StatusOK, app.get("/account").StatusCode)
				assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the refreshed session needs no further call")
				return
			}
			assertRefreshEndedSession(t, resp, app, idp, 1, tt.reason)
		})
	}
}

// TestExpiredRefreshTokenEndsSession: when FusionAuth refuses the refresh
// token (invalid_grant), the user is logged out at once, after one token
// request.
func TestExpiredRefreshTokenEndsSession(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	refreshToken := app.record().RefreshToken

	idp.Advance(31 * 24 * time.Hour) // Past the kickstart's 30-day refresh token lifetime.
	idp.ResetRequests()
	resp := app.get("/account")
	assertRefreshEndedSession(t, resp, app, idp, 1, `FusionAuth refused the refresh token: oauth2: "invalid_grant"`)
	assert.Equal(t, 1, refreshesWith(idp, refreshToken), "one refused refresh")
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
// valid in itself (signed, fresh, for this client, at_hash matching its own
// access token) but belongs to another authentication ends the session:
// another user's refreshed tokens fail the subject check, the same user's
// tokens from another login fail the nonce check (OpenID Connect Core 12.2),
// and this session's own ID token beside the access token of another answer
// fails the at_hash check. Another user's access token without an ID token
// is refused for the missing ID token.
func TestRefreshRefusesTokensFromAnotherAuthentication(t *testing.T) {
	tests := []struct {
		name string
		// steal returns a token answer from another authentication, made
		// after the victim's access token expired; the victim's refresh is
		// then answered with it. edit, if set, instead changes the victim's
		// own refresh answer.
		steal func(t *testing.T, front *idpFront, victim *testApp) map[string]any
		edit  func(t *testing.T, front *idpFront, victim *testApp) func(body map[string]any)
		// reason is in the reason the app logs for ending the session.
		reason string
	}{
		{name: "none: the positive control"},
		{name: "another user's refreshed tokens", reason: "refreshed ID token is for another user than the session", steal: func(t *testing.T, front *idpFront, victim *testApp) map[string]any {
			return otherUsersRefresh(t, front, victim)
		}},
		{name: "the same user's tokens from another login", reason: "refreshed ID token nonce is not the login's", steal: func(t *testing.T, front *idpFront, victim *testApp) map[string]any {
			front.idp.Advance(61 * time.Minute)
			other := victim.newBrowser()
			require.NoError(t, other.logInAs(testUserEmail, testUserPassword))
			return front.lastAnswer("authorization_code")
		}},
		{name: "another user's access token, without an ID token", reason: "token response has no id_token string", steal: func(t *testing.T, front *idpFront, victim *testApp) map[string]any {
			stolen := otherUsersRefresh(t, front, victim)
			delete(stolen, "id_token")
			return stolen
		}},
		{name: "this session's ID token with another answer's access token", reason: "access token does not match the ID token's at_hash", edit: func(t *testing.T, front *idpFront, victim *testApp) func(body map[string]any) {
			// A copy of the session refreshes first, on another replica: the
			// same user, the same login, the same nonce; only at_hash tells
			// the two apart.
			front.idp.Advance(61 * time.Minute)
			require.Equal(t, http.StatusOK, victim.onApp(front.newApp(t)).get("/account").StatusCode, "the copy's refresh")
			other := front.lastAnswer("refresh_token")["access_token"]
			return func(body map[string]any) { body["access_token"] = other }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			front := newIDPFront(t)
			victim := front.newApp(t)
			require.NoError(t, victim.logInAs(testUserEmail, testUserPassword))
			switch {
			case tt.steal != nil:
				stolen := tt.steal(t, front, victim)
				front.setTokenRewrite(func(grant string, body map[string]any) {
					if grant == "refresh_token" {
						clear(body)
						maps.Copy(body, stolen)
					}
				})
			case tt.edit != nil:
				edit := tt.edit(t, front, victim)
				front.setTokenRewrite(func(grant string, body map[string]any) {
					if grant == "refresh_token" {
						edit(body)
					}
				})
			default:
				front.idp.Advance(61 * time.Minute)
			}
			front.idp.ResetRequests()

			resp := victim.get("/account")
			if tt.steal == nil && tt.edit == nil {
				assert.Equal(t, 1, requestsTo(front.idp, "/oauth2/token"), "one refresh request")
				assert.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
				assert.Equal(t, testUserEmail, elementText(resp.body, "email"))
				return
			}
			assertRefreshEndedSession(t, resp, victim, front.idp, 1, tt.reason)
		})
	}
}

// TestRefreshRefusesNonBearerTokens: a refresh answer whose token_type is not
// Bearer ends the session. The control spells it "bearer": token types are
// case-insensitive (RFC 6749 5.1), and the session carries on.
func TestRefreshRefusesNonBearerTokens(t *testing.T) {
	for _, tt := range []struct {
		tokenType string
		wantEnded bool
	}{{"DPoP", true}, {"bearer", false}} {
		t.Run(tt.tokenType, func(t *testing.T) {
			front := newIDPFront(t)
			app := front.newApp(t)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			front.setTokenRewrite(func(grant string, body map[string]any) {
				if grant == "refresh_token" {
					body["token_type"] = tt.tokenType
				}
			})
			front.idp.Advance(61 * time.Minute)
			front.idp.ResetRequests()

			resp := app.get("/account")
			if !tt.wantEnded {
				assert.Equal(t, http.StatusOK, resp.StatusCode, outline(resp))
				assert.Equal(t, testUserEmail, elementText(resp.body, "email"))
				assert.Equal(t, 1, requestsTo(front.idp, "/oauth2/token"), "one refresh request")
				return
			}
			assertRefreshEndedSession(t, resp, app, front.idp, 1, `token_type is "DPoP", want Bearer`)
		})
	}
}

// TestRefreshRefusesAMissingOrMalformedIDToken: FusionAuth always answers a
// refresh with a new ID token, and the app needs one to check that the
// renewed session is still this user's login. An answer without one, or
// with one that is not a string that verifies, ends the session cleanly,
// never with a 500.
func TestRefreshRefusesAMissingOrMalformedIDToken(t *testing.T) {
	// nil stands for an answer without id_token.
	for _, idToken := range []any{nil, 42, true, map[string]any{"sub": "x"}, []string{"a.b.c"}, "", "a.b.c"} {
		name := fmt.Sprintf("%T %v", idToken, idToken)
		if idToken == nil {
			name = "no id_token"
		}
		t.Run(name, func(t *testing.T) {
			front := newIDPFront(t)
			app := front.newApp(t)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			front.setTokenRewrite(func(grant string, body map[string]any) {
				if grant != "refresh_token" {
					return
				}
				if idToken == nil {
					delete(body, "id_token")
					return
				}
				body["id_token"] = idToken
			})
			front.idp.Advance(61 * time.Minute)
			front.idp.ResetRequests()

			// A string goes on to be verified; anything else, or nothing,
			// is not an ID token at all.
			reason := "token response has no id_token string"
			if token, ok := idToken.(string); ok && token != "" {
				reason = "verifying ID token: oidc: malformed jwt"
			}
			resp := app.get("/account")
			assertRefreshEndedSession(t, resp, app, front.idp, 1, reason)
		})
	}
}

// reuseDetection stands for a provider that rotates refresh tokens and, when
// a used one comes back, revokes the whole chain (Ory Hydra, Auth0, Okta).
const reuseDetection = "reuse detection"

// TestTabsRefreshingTogetherStayLoggedIn: several tabs of one browser (one
// cookie jar) whose access token expired send their requests at the same
// moment, all with the same cookies. They share one refresh: FusionAuth is
// asked once, every tab is served, and the session survives its next
// refresh, under Reusable (the kickstart's policy), OneTimeUse, and a
// provider with reuse detection alike.
func TestTabsRefreshingTogetherStayLoggedIn(t *testing.T) {
	const tabs = 8
	for _, policy := range append(refreshTokenPolicies, reuseDetection) {
		t.Run(policy, func(t *testing.T) {
			idp, app := expiredSessionUnder(t, policy)
			idp.ResetRequests()

			for i, status := range sendTogether(t, app, tabs, "/account") {
				assert.Equal(t, http.StatusOK, status, "tab %d", i)
			}
			assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the tabs share one refresh")

			idp.Advance(61 * time.Minute) // The next refresh.
			idp.ResetRequests()
			resp := app.get("/account")
			assert.Equal(t, http.StatusOK, resp.StatusCode, "the next refresh: %s", outline(resp))
			assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the next refresh")
		})
	}
}

// TestRequestSentBeforeTheNewCookiesIsServed: a request that left the
// browser before the answer to a refresh came back still carries the old
// cookies. It is served with that refresh's answer, which it would otherwise
// redeem again: under OneTimeUse FusionAuth would refuse it and end the
// session, and a provider with reuse detection would revoke the new token
// too. The session then survives its next refresh.
func TestRequestSentBeforeTheNewCookiesIsServed(t *testing.T) {
	for _, policy := range append(refreshTokenPolicies, reuseDetection) {
		t.Run(policy, func(t *testing.T) {
			idp, app := expiredSessionUnder(t, policy)
			late := app.copyOfCookies()
			idp.ResetRequests()

			require.Equal(t, http.StatusOK, app.get("/account").StatusCode, "the first tab refreshes")
			resp := late.get("/account")
			assert.Equal(t, http.StatusOK, resp.StatusCode, outline(resp))
			assert.Equal(t, testUserEmail, elementText(resp.body, "email"))
			assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the late request needs no refresh of its own")
			assert.Equal(t, app.record().RefreshToken, late.record().RefreshToken, "both hold the new cookies")

			idp.Advance(61 * time.Minute)
			assert.Equal(t, http.StatusOK, late.get("/account").StatusCode, "the next refresh")
		})
	}
}

// TestKeySetBlipDuringARefreshKeepsTheSession: under OneTimeUse, a refresh
// spends the session's refresh token. When FusionAuth's key set cannot be
// fetched to check the answer (its key rotated, and the key set answers
// 503), the page answers 503 and the session keeps the new refresh token, so
// that once the key set is back the session refreshes again and lives on.
// The control, Reusable, keeps the same token either way.
func TestKeySetBlipDuringARefreshKeepsTheSession(t *testing.T) {
	for _, policy := range refreshTokenPolicies {
		t.Run(policy, func(t *testing.T) {
			front := newIDPFront(t)
			setRefreshTokenPolicy(t, front.idp, policy)
			app := front.newApp(t)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			_, err := front.idp.RotateKey()
			require.NoError(t, err)
			front.idp.Advance(61 * time.Minute) // Past the kickstart's one-hour access tokens.

			front.setBroken("/.well-known/jwks.json", true)
			resp := app.get("/account")
			assertErrorPage(t, resp, http.StatusServiceUnavailable)
			assertDeletesNoSessionCookie(t, resp.Response)

			front.setBroken("/.well-known/jwks.json", false)
			resp = app.get("/account")
			assert.Equal(t, http.StatusOK, resp.StatusCode, "once the key set is back: %s", outline(resp))
			assert.Equal(t, testUserEmail, elementText(resp.body, "email"))
		})
	}
}

// Helpers for the refresh tests.

// expiredSessionUnder logs the kickstart's user in against a FusionAuth
// with the given refresh token usage policy, and lets the access token expire.
func expiredSessionUnder(t *testing.T, policy string) (*fusionauthtest.Server, *testApp) {
	t.Helper()
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	if policy == reuseDetection {
		idp.InjectFault(fusionauthtest.FaultRefreshTokenReuseDetection)
	} else {
		setRefreshTokenPolicy(t, idp, policy)
	}
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
	idp.Advance(61 * time.Minute) // Past the kickstart's one-hour access tokens.
	return idp, app
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

// sendTogether sends n GET requests for path from the browser at the same
// moment, as n tabs would: all with the cookies the browser holds now, each
// answer's cookies stored as it arrives. It returns their statuses (0 for a
// request that failed).
func sendTogether(t *testing.T, browser *testApp, n int, path string) []int {
	t.Helper()
	u, err := url.Parse(browser.url + path)
	require.NoError(t, err)
	cookies := browser.client.Jar.Cookies(u)
	// Without the jar, so that a tab that starts late still sends the
	// cookies all the tabs had.
	tab := &http.Client{Timeout: browser.client.Timeout, CheckRedirect: browser.client.CheckRedirect}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		req, err := http.NewRequest(http.MethodGet, u.String(), nil)
		require.NoError(t, err)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		wg.Go(func() {
			<-start
			resp, err := tab.Do(req)
			if err == nil {
				browser.client.Jar.SetCookies(u, resp.Cookies())
				statuses[i] = resp.StatusCode
				resp.Body.Close()
			}
		})
	}
	close(start)
	wg.Wait()
	return statuses
}

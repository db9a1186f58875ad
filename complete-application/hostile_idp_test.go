package main

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests complete faults_test.go: they play a misbehaving FusionAuth
// (or a misbehaving network in front of it) at the moments faults_test.go
// does not, and every refusal is checked the same way: no session is stored,
// /account still refuses, and FusionAuth is asked nothing further.

// TestCallbackRefusesForeignCallbacksBeforeAnyTokenRequest: a callback the
// browser did not start is refused before the code is spent, so the browser
// that did start the login can still finish it.
func TestCallbackRefusesForeignCallbacksBeforeAnyTokenRequest(t *testing.T) {
	otherKey, err := newCookieSealer([]byte("another-secret-key-of-32-characters-or-more"), false)
	require.NoError(t, err)

	tests := []struct {
		name string
		// deliver sends the victim's callback URL to the app from an
		// attacker's browser, however the case wants it.
		deliver func(t *testing.T, attacker *testApp, callback string) response
	}{
		{"unsolicited, in a browser that started no login", func(t *testing.T, attacker *testApp, callback string) response {
			return attacker.get(callback)
		}},
		{"in a browser with its own login in progress", func(t *testing.T, attacker *testApp, callback string) response {
			_, err := attacker.startLogin() // Login CSRF: the state differs from this browser's.
			require.NoError(t, err)
			return attacker.get(callback)
		}},
		{"without its state", func(t *testing.T, attacker *testApp, callback string) response {
			_, err := attacker.startLogin()
			require.NoError(t, err)
			u, err := url.Parse(callback)
			require.NoError(t, err)
			q := u.Query()
			q.Del("state")
			u.RawQuery = q.Encode()
			return attacker.get(u.String())
		}},
		{"with a login cookie sealed by another key", func(t *testing.T, attacker *testApp, callback string) response {
			u, err := url.Parse(callback)
			require.NoError(t, err)
			attacker.setCookie(loginCookie, otherKey.seal(loginCookie, []byte(`{"state":"`+u.Query().Get("state")+
				`","nonce":"n","verifier":"v","expires_at":"2999-01-01T00:00:00Z"}`)))
			return attacker.get(callback)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
			victim := newTestApp(t, idp)
			callback, err := victim.loginCallback(testUserEmail, testUserPassword)
			require.NoError(t, err)
			attacker := victim.newBrowser()
			idp.ResetRequests()

			resp := tt.deliver(t, attacker, callback)
			assertErrorPage(t, resp, http.StatusBadRequest)
			assertSetsNoSession(t, resp.Response)
			assertLoggedOut(t, attacker)
			assert.Zero(t, requestsTo(idp, "/oauth2/token"), "token requests for a foreign callback")
			assert.Zero(t, requestsTo(idp, "/oauth2/userinfo"), "userinfo requests")

			// The positive control: the code was not spent, and the browser
			// that started the login finishes it.
			victim.get(callback)
			assert.Equal(t, testUserEmail, elementText(victim.get("/account").body, "email"))
		})
	}
}

// TestCallbackRefusesReplayBeforeLogout: the login cookie is deleted on
// first use, so the same callback a second time is refused without a token
// request, even before the user logs out.
func TestCallbackRefusesReplayBeforeLogout(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	authorize, err := app.startLogin()
	require.NoError(t, err)
	loginCookieValue := app.cookie(loginCookie)
	callback, err := app.signIn(authorize, testUserEmail, testUserPassword)
	require.NoError(t, err)
	require.Equal(t, http.StatusSeeOther, app.get(callback).StatusCode)

	// A fresh browser replays both the callback and the login cookie it had,
	// as someone who copied them both would.
	replayer := app.newBrowser()
	replayer.setCookie(loginCookie, loginCookieValue)
	idp.ResetRequests()
	resp := app.get(callback)
	assertErrorPage(t, resp, http.StatusBadRequest)
	assertSetsNoSession(t, resp.Response)
	assert.Equal(t, http.StatusOK, app.get("/account").StatusCode, "the replay does not end the real session")

	resp = replayer.get(callback)
	// The copied cookie still opens and matches, so the app spends the code;
	// FusionAuth's single-use codes are the last line here.
	assert.Contains(t, []int{http.StatusBadRequest, http.StatusBadGateway}, resp.StatusCode, resp.body)
	assertSetsNoSession(t, resp.Response)
	assertLoggedOut(t, replayer)
	assert.LessOrEqual(t, requestsTo(idp, "/oauth2/token"), 1, "at most the copied cookie's token request")
	assert.Zero(t, requestsTo(idp, "/oauth2/userinfo"))
}

// TestCallbackGivesUpOnAHangingTokenEndpoint: the token request has a
// timeout, is sent once, and the user gets a clear page.
func TestCallbackGivesUpOnAHangingTokenEndpoint(t *testing.T) {
	t.Parallel() // It waits for timeouts; let other tests run meanwhile.
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	timeout := app.auth.httpClient.Timeout
	callback, err := app.loginCallback(testUserEmail, testUserPassword)
	require.NoError(t, err)
	idp.InjectFault(fusionauthtest.FaultTokenEndpointHangs)
	idp.ResetRequests()

	start := time.Now()
	resp := app.get(callback)
	took := time.Since(start)
	assertErrorPage(t, resp, http.StatusBadGateway)
	assertSetsNoSession(t, resp.Response)
	assert.GreaterOrEqual(t, took, timeout, "the app waits for its timeout")
	assert.Less(t, took, timeout+3*time.Second, "and not much longer")
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the code is sent once, never retried another way")
	assertLoggedOut(t, app)
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "no token request after the refusal")
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

// TestTokenResponsesWithASubstitutedAccessTokenAreRefused: an attacker who
// can tamper with the token response swaps in another, perfectly valid
// access token of the same user. The ID token's at_hash no longer matches,
// at login and at refresh.
func TestTokenResponsesWithASubstitutedAccessTokenAreRefused(t *testing.T) {
	t.Run("at login", func(t *testing.T) {
		front := newIDPFront(t)
		app := front.newApp(t)
		earlier := app.newBrowser()
		require.NoError(t, earlier.logInAs(testUserEmail, testUserPassword))
		stolen := front.lastAccessToken()
		front.setTokenRewrite(func(grant string, body map[string]any) { body["access_token"] = stolen })
		front.idp.ResetRequests()

		callback, err := app.loginCallback(testUserEmail, testUserPassword)

		require.NoError(t, err)

		resp := app.get(callback)
		assertErrorPage(t, resp, http.StatusBadGateway)
		assertSetsNoSession(t, resp.Response)
		assertLoggedOut(t, app)
		assert.Equal(t, 1, requestsTo(front.idp, "/oauth2/token"), "the code exchange, and nothing after")
		assert.Zero(t, requestsTo(front.idp, "/oauth2/userinfo"))

		// The positive control, through the same front, in a fresh browser
		// (this one has FusionAuth's SSO session now).
		front.setTokenRewrite(nil)
		control := app.newBrowser()
		require.NoError(t, control.logInAs(testUserEmail, testUserPassword))
		assert.Equal(t, http.StatusOK, control.get("/account").StatusCode)
	})

	t.Run("at refresh", func(t *testing.T) {
		front := newIDPFront(t)
		app := front.newApp(t)
		require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
		front.idp.Advance(61 * time.Minute)
		// A login after the clock moved yields an access token that is valid now.
		other := app.newBrowser()
		require.NoError(t, other.logInAs(testUserEmail, testUserPassword))
		stolen := front.lastAccessToken()
		front.setTokenRewrite(func(grant string, body map[string]any) {
			if grant == "refresh_token" {
				body["access_token"] = stolen
			}
		})
		front.idp.ResetRequests()

		resp := app.get("/account")
		assertRefreshEndedSession(t, resp, app, front.idp)
	})
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

// registerUser creates a user registered to Changebank through the admin
// API, as an administrator would in FusionAuth.
func registerUser(t *testing.T, idp *fusionauthtest.Server, id, email, password string) {
	t.Helper()
	callAdminAPI(t, idp, http.MethodPost, "/api/user/registration/"+id, map[string]any{
		"user":         map[string]any{"email": email, "password": password},
		"registration": map[string]any{"applicationId": testClientID},
	})
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

// TestCallbackWithoutIssIsRefused: FusionAuth announces that its
// authorization responses name it (RFC 9207), so a code without iss is
// refused before it is sent to the token endpoint, and with iss the same
// login completes.
func TestCallbackWithoutIssIsRefused(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	callbackURL, err := app.loginCallback(testUserEmail, testUserPassword)
	require.NoError(t, err)
	callback, err := url.Parse(callbackURL)
	require.NoError(t, err)
	query := callback.Query()
	require.Equal(t, idp.URL(), query.Get("iss"), "the stand-in names itself, as FusionAuth does")
	withoutIss := *callback
	query.Del("iss")
	withoutIss.RawQuery = query.Encode()
	loginCookieValue := app.cookie(loginCookie)
	idp.ResetRequests()

	resp := app.get(withoutIss.String())
	assertErrorPage(t, resp, http.StatusBadRequest)
	assertSetsNoSession(t, resp.Response)
	assert.Zero(t, requestsTo(idp, "/oauth2/token"), "token requests for a code without iss")
	assertLoggedOut(t, app)

	// The positive control: the same login, with iss, completes.
	app.setCookie(loginCookie, loginCookieValue)
	resp = app.get(callback.String())
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
	assert.Equal(t, testUserEmail, elementText(app.get("/account").body, "email"))
}

// assertRefreshEndedSession checks the outcome of a refused refresh: the
// browser goes to the home page, every session cookie is deleted and none is
// set, /account refuses, and FusionAuth heard the one refresh request and
// nothing after it.
func assertRefreshEndedSession(t *testing.T, resp response, app *testApp, idp *fusionauthtest.Server) {
	t.Helper()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assertDeletesSession(t, resp.Response)
	assertSetsNoSession(t, resp.Response)
	assertLoggedOut(t, app)
	assert.Equal(t, 1, requestsTo(idp, "/oauth2/token"), "the refresh, and nothing after it")
	assert.Zero(t, requestsTo(idp, "/oauth2/userinfo"), "userinfo requests")
}

// The account page: what it shows the logged-in user, and its cost, the
// protected-request path, measured.

package main

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAccountShowsTheLoggedInUser: two users logged in at once, each in a
// browser of their own, each see their own email and nobody else's, a
// balance of $0.00, and the ways on: the make change link and the logout
// form. A visitor is sent home.
func TestAccountShowsTheLoggedInUser(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	const otherEmail, otherPassword = "o'brien+bank@example.com", "o-brien-password"
	registerUser(t, idp, "00000000-0000-4000-8000-0000000000b1", otherEmail, otherPassword)
	richard := newTestApp(t, idp)
	require.NoError(t, richard.logInAs(testUserEmail, testUserPassword))
	other := richard.newBrowser()
	require.NoError(t, other.logInAs(otherEmail, otherPassword))

	for _, tt := range []struct {
		browser        *testApp
		email, another string
	}{
		{richard, testUserEmail, otherEmail},
		{other, otherEmail, testUserEmail},
	} {
		page := tt.browser.get("/account")
		require.Equal(t, http.StatusOK, page.StatusCode, "%s: %s", tt.email, outline(page))
		assert.Equal(t, tt.email, html.UnescapeString(elementText(page.body, "email")), "the user's own email")
		assert.NotContains(t, html.UnescapeString(page.body), tt.another, "%s's page shows another user", tt.email)
		assert.Equal(t, "$0.00", elementText(page.body, "balance"), "%s's balance", tt.email)
		assert.Contains(t, page.body, `<a id="make-change-link" class="button" href="/make-change">`, tt.email)
		assert.Regexp(t, `<form method="post" action="/logout">\s*<button id="logout"`, page.body, tt.email)
	}

	visitor := richard.newBrowser().get("/account")
	assert.Equal(t, http.StatusSeeOther, visitor.StatusCode, outline(visitor))
	assert.Equal(t, "/", visitor.Header.Get("Location"))
	assert.NotContains(t, visitor.body, testUserEmail)
}

// BenchmarkAccount measures the protected-request path: a logged-in GET
// /account, whose record and access token are opened from their sealed
// cookies and whose token is verified locally (RS256 signature with the
// cached key, issuer, audience, expiry, the first time; the cache of
// verified tokens after that) before the page is rendered. Run it with
//
//	go test ./complete-application -run '^$' -bench Account -benchmem
func BenchmarkAccount(b *testing.B) {
	idp := fusionauthtest.NewServer(b, fusionauthtest.Options{})
	app := newTestApp(b, idp)
	require.NoError(b, app.logInAs(testUserEmail, testUserPassword))
	appURL, err := url.Parse(app.url)
	require.NoError(b, err)
	cookies := app.client.Jar.Cookies(appURL)
	handler := app.handler()

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, app.url+"/account", nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		for pb.Next() {
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("GET /account = %d, want 200", rec.Code)
				return
			}
		}
	})
}

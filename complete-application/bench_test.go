package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"changebank/e2e/fusionauthtest"
	"github.com/stretchr/testify/require"
)

// BenchmarkAccount measures the protected-request path: a logged-in GET
// /account, whose access token is opened from its sealed cookie and verified
// locally (RS256 signature with the cached key, issuer, audience, expiry,
// the first time; the cache of verified tokens after that) before the page
// is rendered. Run it with
//
//	go test ./complete-application -run '^$' -bench Account -benchmem
func BenchmarkAccount(b *testing.B) {
	idp := fusionauthtest.NewServer(b, fusionauthtest.Options{})
	app := newTestApp(b, idp)
	require.NoError(b, app.logInAs(testUserEmail, testUserPassword))
	appURL, _ := url.Parse(app.url)
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

// BenchmarkVerifyAccessToken isolates the signature and claims check: in
// full, as for a token not seen before, and from the cache of verified
// tokens, as for every later request of the session.
func BenchmarkVerifyAccessToken(b *testing.B) {
	idp := fusionauthtest.NewServer(b, fusionauthtest.Options{})
	app := newTestApp(b, idp)
	require.NoError(b, app.logInAs(testUserEmail, testUserPassword))
	req := httptest.NewRequest(http.MethodGet, app.url+"/account", nil)
	appURL, _ := url.Parse(app.url)
	for _, c := range app.client.Jar.Cookies(appURL) {
		req.AddCookie(c)
	}
	s, err := app.auth.readSessionState(req)
	if err != nil {
		b.Fatal(err)
	}
	accessToken, err := app.auth.cookies.get(req, accessTokenCookie)
	if err != nil {
		b.Fatal(err)
	}
	p, err := app.auth.provider(b.Context())
	if err != nil {
		b.Fatal(err)
	}

	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			app.auth.verified = newVerifiedTokenCache(maxVerifiedTokens)
			if _, err := app.auth.verifyAccessToken(b.Context(), p, accessToken, s.User.Subject); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := app.auth.verifyAccessToken(b.Context(), p, accessToken, s.User.Subject); err != nil {
				b.Fatal(err)
			}
		}
	})
}

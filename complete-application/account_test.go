// The account page's cost: the protected-request path, measured.

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

package fusionauthtest_test

import (
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	"changebank/e2e/fusionauthtest"
)

// BenchmarkStartToReady measures Start (listen, kickstart with its RSA key
// generation) until /api/status answers, then Close:
//
//	go test ./e2e/fusionauthtest -run '^$' -bench StartToReady -benchtime 20x
func BenchmarkStartToReady(b *testing.B) {
	for b.Loop() {
		s, err := fusionauthtest.Start("127.0.0.1:0", fusionauthtest.Options{KickstartPath: projectKickstart})
		if err != nil {
			b.Fatal(err)
		}
		resp, err := http.Get(s.URL() + "/api/status")
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("/api/status: %d", resp.StatusCode)
		}
		s.Close()
	}
}

// BenchmarkLoginFlow measures whole logins over HTTP: the login page, the
// credentials POST, and the code exchange with PKCE.
//
//	go test ./e2e/fusionauthtest -run '^$' -bench LoginFlow
func BenchmarkLoginFlow(b *testing.B) {
	tg := newTarget(b)
	ctx := b.Context()
	c := newClient(b, ctx, tg)
	for b.Loop() {
		code, req := logIn(b, c, newBrowser(b))
		if _, err := c.config.Exchange(ctx, code, oauth2.VerifierOption(req.Verifier)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}

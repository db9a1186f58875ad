// Bad input never yields a 500, a panic or a session. The first three fuzz
// targets send whatever the fuzzer makes up through the whole application
// handler, with a FusionAuth stand-in behind it; FuzzParseDollars fuzzes the
// amount parser alone. `go test` runs their seeds; scripts/fuzz.sh at the
// repository root fuzzes each for a minute.

package main

import (
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/require"
)

// FuzzSessionCookies sends /account arbitrary session cookies: raw (so the
// unsealing itself is fuzzed) or sealed with the app's key (so what is inside
// a cookie that opens is fuzzed: the user's JSON, the access token's JWT, the
// refresh token). The answer is the account page, "logged out", or a retry of
// the same page after a refused refresh, nothing else.
func FuzzSessionCookies(f *testing.F) {
	idp := fusionauthtest.NewServer(f, fusionauthtest.Options{})
	app := newTestApp(f, idp)
	// The session's own limits, as configured by default, are fuzzed too.
	app.auth.sessionIdleTimeout = defaultSessionIdleTimeout
	app.auth.sessionMaxLifetime = defaultSessionMaxLifetime
	require.NoError(f, app.logInAs(testUserEmail, testUserPassword))
	handler, sealer := app.handler(), app.auth.cookies

	realUser, err := sealer.open(userCookie, app.cookie(userCookie))
	if err != nil {
		f.Fatal(err)
	}
	realAccessToken, err := sealer.open(accessTokenCookie, app.cookie(accessTokenCookie))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(realUser), string(realAccessToken), "", true, true)
	f.Add(app.cookie(userCookie), app.cookie(accessTokenCookie), "", false, false)
	f.Add(string(realUser), "", "a-refresh-token", true, false)
	// Forged sessions: another user with the real access token, times at
	// the edges of what a record holds, and a record cut short.
	admin := encodeSessionState(sessionState{
		User:      user{Subject: "00000000-0000-0000-0000-000000000001", Email: "admin@example.com"},
		StartedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		SeenAt:    time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC),
	})
	f.Add(string(admin), string(realAccessToken), "", true, true)
	edges := encodeSessionState(sessionState{
		User:      user{Subject: "00000000-0000-0000-0000-111111111111"},
		StartedAt: time.Unix(math.MinInt64, 0),
		SeenAt:    time.Unix(math.MaxInt64, 0),
	})
	f.Add(string(edges), string(realAccessToken), "", true, true)
	f.Add(string(realUser[:len(realUser)/2]), "", "a-refresh-token", true, false)
	f.Add(`{"sub":`, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "", true, true)
	f.Add(string(realUser), "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "", true, true)
	f.Add("%%%not-base64%%%", "AAAA", "", false, false)
	f.Add("", "", "", false, false)

	f.Fuzz(func(t *testing.T, userValue, accessValue, refreshValue string, sealUser, sealAccess bool) {
		idp.ResetRequests() // The stand-in records every request; keep it small.
		cookie := func(name, value string, seal bool) string {
			if seal {
				value = sealer.seal(name, []byte(value))
			}
			return name + "=" + value
		}
		cookies := []string{cookie(userCookie, userValue, sealUser)}
		// Without an access token cookie the app goes straight to the refresh.
		if accessValue != "" || sealAccess {
			cookies = append(cookies, cookie(accessTokenCookie, accessValue, sealAccess))
		}
		if refreshValue != "" {
			cookies = append(cookies, cookie(refreshTokenCookie, refreshValue, true))
		}
		req := httptest.NewRequest(http.MethodGet, app.url+"/account", nil)
		req.Header.Set("Cookie", strings.Join(cookies, "; "))
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)

		switch rec.Code {
		case http.StatusOK:
			if !strings.Contains(rec.Body.String(), `id="email"`) {
				t.Errorf("GET /account = 200 without the account page:\n%s", rec.Body)
			}
		case http.StatusSeeOther:
			if got := rec.Header().Get("Location"); got != "/" {
				t.Errorf("GET /account redirects to %q, want /", got)
			}
		case http.StatusTemporaryRedirect:
			if got := rec.Header().Get("Location"); got != "/account" {
				t.Errorf("GET /account asks for a retry at %q, want /account", got)
			}
		default:
			t.Errorf("GET /account with cookies %q = %d, want 200 or 303:\n%s", cookies, rec.Code, rec.Body)
		}
	})
}

// FuzzCallbackQuery sends /callback arbitrary query strings, with or without
// this browser's login cookie and its state. Without a code FusionAuth
// issued, no callback may start a session; every answer is a clear page.
func FuzzCallbackQuery(f *testing.F) {
	idp := fusionauthtest.NewServer(f, fusionauthtest.Options{})
	app := newTestApp(f, idp)
	authorize, err := app.startLogin()
	require.NoError(f, err)
	state := authorize.Query().Get("state")
	loginCookieValue := app.cookie(loginCookie)
	handler := app.handler()

	for _, seed := range []string{
		"",
		"code=abc",
		"code=abc&iss=" + url.QueryEscape(idp.URL()),
		"code=abc&iss=https%3A%2F%2Fevil.example.com",
		"error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
		"error=" + strings.Repeat("%E2%82%AC", 200),
		"code=a&code=b&state=x",
		"state=&code=",
		"code=%zz&state=%",
		"code=abc;iss=x",
		"iss=&error=",
	} {
		f.Add(seed, true, true)
		f.Add(seed, true, false)
		f.Add(seed, false, true)
	}

	f.Fuzz(func(t *testing.T, query string, withLoginCookie, withState bool) {
		idp.ResetRequests()
		req := httptest.NewRequest(http.MethodGet, app.url+"/callback", nil)
		req.URL.RawQuery = query
		if withState {
			req.URL.RawQuery = "state=" + url.QueryEscape(state) + "&" + query
		}
		if withLoginCookie {
			req.Header.Set("Cookie", loginCookie+"="+loginCookieValue)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)

		// 400 for a callback refused on sight, 502 when FusionAuth refuses the code.
		if rec.Code != http.StatusBadRequest && rec.Code != http.StatusBadGateway {
			t.Errorf("GET /callback?%s = %d, want 400 or 502:\n%s", req.URL.RawQuery, rec.Code, rec.Body)
		}
		if elementText(rec.Body.String(), "error") == "" {
			t.Errorf("GET /callback?%s: no #error message:\n%s", req.URL.RawQuery, rec.Body)
		}
		if strings.Contains(rec.Body.String(), "<script") {
			t.Errorf("GET /callback?%s: markup from the query reached the page:\n%s", req.URL.RawQuery, rec.Body)
		}
		for _, c := range rec.Result().Cookies() {
			if c.Value != "" && c.MaxAge >= 0 {
				t.Errorf("GET /callback?%s sets cookie %s", req.URL.RawQuery, c.Name)
			}
		}
	})
}

// FuzzMakeChangeForm posts arbitrary bodies to /make-change as a logged-in
// user. The answer is the result (200) or the form with a message (400), and
// for a well-formed form it agrees with parseDollars.
func FuzzMakeChangeForm(f *testing.F) {
	idp := fusionauthtest.NewServer(f, fusionauthtest.Options{})
	app := newTestApp(f, idp)
	require.NoError(f, app.logInAs(testUserEmail, testUserPassword))
	handler := app.handler()
	appURL, err := url.Parse(app.url)
	if err != nil {
		f.Fatal(err)
	}
	var cookies []string
	for _, c := range app.client.Jar.Cookies(appURL) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	const form = "application/x-www-form-urlencoded"

	for _, seed := range []string{
		"amount=0.29", "amount=1.02", "amount=-1", "amount=NaN", "amount=1e3", "amount=%241.5",
		"amount=0.001", "amount=99999999999", "amount=", "amount=%zz", "amount=1;x=2", "amount=1&amount=2",
		"amount=%3Cb%3E1%3C%2Fb%3E", "amount=" + strings.Repeat("9", 5000), "", "x=1",
	} {
		f.Add(seed, form)
	}
	f.Add("--b\r\nContent-Disposition: form-data; name=\"amount\"\r\n\r\n1\r\n--b--\r\n", "multipart/form-data; boundary=b")
	f.Add(`{"amount":"1"}`, "application/json")
	f.Add("amount=1", "")

	f.Fuzz(func(t *testing.T, body, contentType string) {
		req := httptest.NewRequest(http.MethodPost, app.url+"/make-change", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Cookie", strings.Join(cookies, "; "))
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)

		page := rec.Body.String()
		switch rec.Code {
		case http.StatusOK:
			if elementText(page, "change-result") == "" {
				t.Errorf("POST /make-change %q = 200 without a result:\n%s", body, page)
			}
		case http.StatusBadRequest:
			if elementText(page, "change-error") == "" && elementText(page, "error") == "" {
				t.Errorf("POST /make-change %q = 400 without a message:\n%s", body, page)
			}
		default:
			t.Fatalf("POST /make-change %q (%s) = %d, want 200 or 400:\n%s", body, contentType, rec.Code, page)
		}

		if contentType != form || len(body) > maxFormBytes {
			return
		}
		values, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		_, parseErr := parseDollars(values.Get("amount"))
		if accepted := parseErr == nil; accepted != (rec.Code == http.StatusOK) {
			t.Errorf("POST /make-change amount %q = %d, but parseDollars says %v", values.Get("amount"), rec.Code, parseErr)
		}
	})
}

// FuzzParseDollars: no input panics, and every accepted amount is in range
// and formats back to the same number of cents.
func FuzzParseDollars(f *testing.F) {
	for _, seed := range []string{"0.29", "-1", "1e3", "NaN", ".5", "$1.02", "99999999999"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		cents, err := parseDollars(input)
		if err != nil {
			return
		}
		if cents < 0 || cents > maxAmountCents {
			t.Errorf("parseDollars(%q) = %d, out of range", input, cents)
		}
		c := makeChange(cents)
		if c.Nickels*5+c.Pennies != cents || c.Pennies >= 5 {
			t.Errorf("makeChange(%d) = %+v does not add up", cents, c)
		}
	})
}

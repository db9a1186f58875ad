// The pages: every route for a visitor and for a logged-in user (status,
// redirect, security headers, static files only from the static folder),
// and make-change in integer cents, over HTTP and in parseDollars and
// makeChange themselves.

package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRoutesLoggedOut checks every route for a visitor without a session.
func TestRoutesLoggedOut(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)

	tests := []struct {
		method, path string
		wantStatus   int
		wantLocation string // for redirects: the target, or its prefix when it ends in "?"
		wantText     string // in the body
	}{
		{"GET", "/", http.StatusOK, "", `id="login"`},
		{"GET", "/login", http.StatusSeeOther, idp.URL() + "/oauth2/authorize?", ""},
		{"GET", "/callback", http.StatusBadRequest, "", `id="error"`},
		{"GET", "/account", http.StatusSeeOther, "/", ""},
		{"GET", "/make-change", http.StatusSeeOther, "/", ""},
		{"POST", "/make-change", http.StatusSeeOther, "/", ""},
		// Logout ends FusionAuth's session even when this browser has no
		// session of Changebank's left: FusionAuth's may still be alive.
		{"POST", "/logout", http.StatusSeeOther, idp.URL() + "/oauth2/logout?", ""},
		{"GET", "/logout", http.StatusSeeOther, "/", ""},
		{"GET", "/static/changebank.css", http.StatusOK, "", ".button"},
		{"GET", "/static/changebank.svg", http.StatusOK, "", "<svg"},
		{"GET", "/static/", http.StatusNotFound, "", `id="error"`},
		{"GET", "/static/missing.css", http.StatusNotFound, "", ""},
		// The mux does not clean escaped dot-dots; the templates stay unserved.
		{"GET", "/static/%2e%2e/templates/layout.html", http.StatusNotFound, "", `id="error"`},
		{"GET", "/static/..%2ftemplates/layout.html", http.StatusNotFound, "", `id="error"`},
		{"GET", "/static/%2e%2e%2ftemplates%2fpages%2fhome.html", http.StatusNotFound, "", `id="error"`},
		{"GET", "/static/%2e%2e/main.go", http.StatusNotFound, "", `id="error"`},
		{"GET", "/no-such-page", http.StatusNotFound, "", `id="error"`},
		{"PUT", "/account", http.StatusNotFound, "", `id="error"`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			var resp response
			if tt.method == "POST" {
				resp = app.post(tt.path, url.Values{"amount": {"1"}})
			} else {
				req, err := http.NewRequest(tt.method, app.url+tt.path, nil)
				require.NoError(t, err)
				resp = app.do(req)
			}
			assert.Equal(t, tt.wantStatus, resp.StatusCode, resp.body)
			switch location := resp.Header.Get("Location"); {
			case strings.HasSuffix(tt.wantLocation, "?"):
				assert.True(t, strings.HasPrefix(location, tt.wantLocation),
					"Location %q, want prefix %q", location, tt.wantLocation)
			case tt.wantLocation != "":
				assert.Equal(t, tt.wantLocation, location)
			}
			assert.Contains(t, resp.body, tt.wantText)
			assertSecurityHeaders(t, resp.Response)
		})
	}
}

// TestRoutesLoggedIn checks every route for a logged-in user.
func TestRoutesLoggedIn(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	home := app.get("/")
	assert.Equal(t, http.StatusSeeOther, home.StatusCode)
	assert.Equal(t, "/account", home.Header.Get("Location"))

	// Each page shows what only a logged-in user sees there.
	for path, want := range map[string]string{"/account": testUserEmail, "/make-change": `id="make-change-form"`} {
		resp := app.get(path)
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), path)
		assert.Contains(t, resp.body, want, path)
		assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"), path)
		assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"), path)
		assertSecurityHeaders(t, resp.Response)
	}
	form := app.get("/make-change")
	for _, id := range []string{"make-change-form", "amount", "make-change-submit"} {
		assert.Contains(t, form.body, `id="`+id+`"`)
	}
}

// assertSecurityHeaders checks the headers every response must carry.
func assertSecurityHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	csp := resp.Header.Get("Content-Security-Policy")
	assert.NotEmpty(t, csp, "Content-Security-Policy")
	assert.NotContains(t, csp, "unsafe-inline")
	assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	assert.Equal(t, "same-origin", resp.Header.Get("Cross-Origin-Opener-Policy"))
}

// TestMakeChange checks the answers, and the messages for bad amounts.
func TestMakeChange(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	tests := []struct {
		amount     string
		wantStatus int
		wantResult string
		wantError  string
	}{
		{"0.29", http.StatusOK, "We can make change for $0.29 with 5 nickels and 4 pennies!", ""},
		{"0.58", http.StatusOK, "We can make change for $0.58 with 11 nickels and 3 pennies!", ""},
		{"1.02", http.StatusOK, "We can make change for $1.02 with 20 nickels and 2 pennies!", ""},
		{"0.15", http.StatusOK, "We can make change for $0.15 with 3 nickels and 0 pennies!", ""},
		{"$3", http.StatusOK, "We can make change for $3.00 with 60 nickels and 0 pennies!", ""},
		{"-1", http.StatusBadRequest, "", "negative"},
		{"abc", http.StatusBadRequest, "", "digits"},
		{"NaN", http.StatusBadRequest, "", "digits"},
		{"Inf", http.StatusBadRequest, "", "digits"},
		{"1e3", http.StatusBadRequest, "", "digits"},
		{"0.001", http.StatusBadRequest, "", "two digits"},
		{"99999999999", http.StatusBadRequest, "", "too large"},
		{strings.Repeat("9", 500), http.StatusBadRequest, "", "too large"},
		{"", http.StatusBadRequest, "", "enter an amount"},
		{"<b>1</b>", http.StatusBadRequest, "", "digits"},
	}
	for _, tt := range tests {
		t.Run(tt.amount, func(t *testing.T) {
			resp := app.post("/make-change", url.Values{"amount": {tt.amount}})
			assert.Equal(t, tt.wantStatus, resp.StatusCode, "amount %q", tt.amount)
			assert.Equal(t, tt.wantResult, elementText(resp.body, "change-result"), "amount %q", tt.amount)
			assert.Contains(t, strings.ToLower(elementText(resp.body, "change-error")), tt.wantError, "amount %q", tt.amount)
			assert.NotContains(t, resp.body, "<b>1</b>", "the amount is echoed escaped")
		})
	}

	t.Run("malformed form", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, app.url+"/make-change", strings.NewReader("amount=%zz"))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp := app.do(req)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.NotEmpty(t, elementText(resp.body, "error"))
	})
	t.Run("oversized form", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, app.url+"/make-change", strings.NewReader("amount="+strings.Repeat("1", 1<<20)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		assert.Equal(t, http.StatusBadRequest, app.do(req).StatusCode)
	})
}

func TestParseDollars(t *testing.T) {
	tests := []struct {
		input     string
		wantCents int64
		wantErr   string // a part of the message; "" for success
	}{
		{"0.29", 29, ""},
		{"0.58", 58, ""},
		{"1.02", 102, ""},
		{"0.15", 15, ""},
		{"1", 100, ""},
		{"1.5", 150, ""},
		{".75", 75, ""},
		{"5.", 500, ""},
		{" $12.34 ", 1234, ""},
		{"0", 0, ""},
		{"007.00", 700, ""},
		{"1000000", maxAmountCents, ""},
		{"1000000.01", 0, "too large"},
		{"99999999", 0, "too large"},
		{strings.Repeat("0", 15) + "1", 100, ""},
		{strings.Repeat("1", 21), 0, "too large"},
		{"", 0, "enter an amount"},
		{"   ", 0, "enter an amount"},
		{"$", 0, "enter an amount"},
		{".", 0, "digits"},
		{"-0.01", 0, "negative"},
		{"+1", 0, "digits"},
		{"1e2", 0, "digits"},
		{"1E2", 0, "digits"},
		{"NaN", 0, "digits"},
		{"Inf", 0, "digits"},
		{"-Inf", 0, "negative"},
		{"0x10", 0, "digits"},
		{"1_000", 0, "digits"},
		{"1,000", 0, "digits"},
		{"1.2.3", 0, "digits"},
		{"0.001", 0, "two digits"},
		{"١٢", 0, "digits"}, // Arabic-Indic digits are not ASCII digits.
	}
	for _, tt := range tests {
		got, err := parseDollars(tt.input)
		if tt.wantErr == "" {
			if assert.NoError(t, err, "parseDollars(%q)", tt.input) {
				assert.Equal(t, tt.wantCents, got, "parseDollars(%q)", tt.input)
			}
			continue
		}
		if assert.Error(t, err, "parseDollars(%q)", tt.input) {
			assert.Contains(t, strings.ToLower(err.Error()), tt.wantErr, "parseDollars(%q)", tt.input)
		}
	}
}

func TestMakeChangeCounts(t *testing.T) {
	tests := []struct {
		cents                    int64
		wantAmount               string
		wantNickels, wantPennies int64
	}{
		{29, "$0.29", 5, 4},
		{58, "$0.58", 11, 3},
		{102, "$1.02", 20, 2},
		{15, "$0.15", 3, 0},
		{0, "$0.00", 0, 0},
		{maxAmountCents, "$1000000.00", 20_000_000, 0},
	}
	for _, tt := range tests {
		got := makeChange(tt.cents)
		assert.Equal(t, change{Amount: tt.wantAmount, Nickels: tt.wantNickels, Pennies: tt.wantPennies}, got, "makeChange(%d)", tt.cents)
	}
}

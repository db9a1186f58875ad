// Making change: amounts in integer cents, never floats, over HTTP and in
// parseDollars itself; clear messages for bad amounts and malformed forms;
// and fuzzers for the form and the parser.

package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMakeChange checks the answers, and the messages for bad amounts, as
// a logged-in user sees them.
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
		resp := app.do(req)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.NotEmpty(t, elementText(resp.body, "error"))
	})
}

// TestMakeChangeCounts checks the count of nickels and pennies and the
// dollar formatting at the edges: nothing, and the largest amount accepted.
// The form handler alone is called: what it computes needs no session.
func TestMakeChangeCounts(t *testing.T) {
	pages, err := parsePages(slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	handler := handleMakeChange(pages)

	tests := []struct {
		amount     string
		wantResult string
	}{
		{"0.29", "We can make change for $0.29 with 5 nickels and 4 pennies!"},
		{"0.58", "We can make change for $0.58 with 11 nickels and 3 pennies!"},
		{"1.02", "We can make change for $1.02 with 20 nickels and 2 pennies!"},
		{"0.15", "We can make change for $0.15 with 3 nickels and 0 pennies!"},
		{"0", "We can make change for $0.00 with 0 nickels and 0 pennies!"},
		{"0.04", "We can make change for $0.04 with 0 nickels and 4 pennies!"},
		{"1000000", "We can make change for $1000000.00 with 20000000 nickels and 0 pennies!"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodPost, "/make-change", strings.NewReader(url.Values{"amount": {tt.amount}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusOK, rec.Code, "amount %q", tt.amount)
		assert.Equal(t, tt.wantResult, elementText(rec.Body.String(), "change-result"), "amount %q", tt.amount)
	}
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

// FuzzMakeChangeForm posts arbitrary bodies to /make-change as a logged-in
// user, through the whole application handler. The answer is the result
// (200) or the form with a message (400), never anything else, and for a
// well-formed form it agrees with parseDollars.
func FuzzMakeChangeForm(f *testing.F) {
	idp := fusionauthtest.NewServer(f, fusionauthtest.Options{})
	app := newTestApp(f, idp)
	require.NoError(f, app.logInAs(testUserEmail, testUserPassword))
	handler := app.handler()
	appURL, err := url.Parse(app.url)
	require.NoError(f, err)
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

// FuzzParseDollars: no input panics, every accepted amount is in range, and
// formatting it gives back an amount that parses to the same cents.
func FuzzParseDollars(f *testing.F) {
	for _, seed := range []string{"0.29", "-1", "1e3", "NaN", ".5", "$1.02", "99999999999", "1000000", "007.1", "0.05"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		cents, err := parseDollars(input)
		if err != nil {
			if err.Error() == "" {
				t.Errorf("parseDollars(%q) refused it without a message", input)
			}
			return
		}
		if cents < 0 || cents > maxAmountCents {
			t.Errorf("parseDollars(%q) = %d, out of range", input, cents)
		}
		formatted := formatDollars(cents)
		if again, err := parseDollars(formatted); err != nil || again != cents {
			t.Errorf("parseDollars(%q) = %d, formatted %q, which parses to %d, %v", input, cents, formatted, again, err)
		}
	})
}

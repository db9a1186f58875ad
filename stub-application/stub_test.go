package main

import (
	"context"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStubServesItsPages starts the stub as `go run` would and checks each
// route.
func TestStubServesItsPages(t *testing.T) {
	base := startStub(t)
	tests := []struct {
		path       string
		wantStatus int
		wantText   string
	}{
		{"/", http.StatusOK, "Welcome to Changebank, please log in."},
		{"/", http.StatusOK, `id="login" class="button" href="/login"`},
		{"/login", http.StatusNotImplemented, "not connected to FusionAuth yet"},
		{"/make-change", http.StatusOK, `id="make-change-form"`},
		{"/static/changebank.css", http.StatusOK, ".button"},
		// Only the static folder: escaped dot-dots reach no template.
		{"/static/%2e%2e/templates/layout.html", http.StatusNotFound, `id="error"`},
		{"/static/..%2ftemplates/layout.html", http.StatusNotFound, `id="error"`},
		{"/account", http.StatusNotFound, `id="error"`},
	}
	for _, tt := range tests {
		resp, err := http.Get(base + tt.path)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, tt.wantStatus, resp.StatusCode, "GET %s", tt.path)
		assert.Contains(t, string(body), tt.wantText, "GET %s", tt.path)
		assert.NotContains(t, resp.Header.Get("Content-Security-Policy"), "unsafe-inline", "GET %s", tt.path)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), "GET %s", tt.path)
	}
}

// TestStubMakesChange posts the make-change form, which needs no login in the
// stub, and checks the answer for good and bad amounts.
func TestStubMakesChange(t *testing.T) {
	base := startStub(t)
	tests := []struct {
		amount     string
		wantStatus int
		wantID     string // the element that holds the answer
		wantText   string
	}{
		{"0.29", http.StatusOK, "change-result", "We can make change for $0.29 with 5 nickels and 4 pennies!"},
		{"$1.02", http.StatusOK, "change-result", "We can make change for $1.02 with 20 nickels and 2 pennies!"},
		{"0", http.StatusOK, "change-result", "We can make change for $0.00 with 0 nickels and 0 pennies!"},
		{"", http.StatusBadRequest, "change-error", "Please enter an amount, like 1.25."},
		{"abc", http.StatusBadRequest, "change-error", "Please enter the amount in dollars and cents using digits and an optional decimal point, like 1.25."},
		{"-1", http.StatusBadRequest, "change-error", "We can't make change for a negative amount."},
		{"1.001", http.StatusBadRequest, "change-error", "Please enter at most two digits after the decimal point: we don't deal in fractions of a cent."},
		{"1e3", http.StatusBadRequest, "change-error", "Please enter the amount in dollars and cents using digits and an optional decimal point, like 1.25."},
		{"100000000", http.StatusBadRequest, "change-error", "That amount is too large: the most we change is $1000000.00."},
	}
	for _, tt := range tests {
		resp, err := http.PostForm(base+"/make-change", url.Values{"amount": {tt.amount}})
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, tt.wantStatus, resp.StatusCode, "amount %q", tt.amount)
		assert.Equal(t, tt.wantText, elementText(string(body), tt.wantID), "amount %q", tt.amount)
	}

	// A form the server cannot read gets a page that says so, not a 500.
	resp, err := http.Post(base+"/make-change", "application/x-www-form-urlencoded", strings.NewReader("amount=%zz"))
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a malformed form")
	assert.Contains(t, string(body), "The form could not be read.")
}

func TestStubRefusesInvalidConfig(t *testing.T) {
	err := run(t.Context(), nil, func(name string) string {
		if name == "PORT" {
			return "not-a-port"
		}
		return ""
	}, io.Discard, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "PORT")
}

// startStub runs the stub on a free local port until the test ends, and
// returns its base URL once it answers.
func startStub(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + l.Addr().String()
	require.NoError(t, l.Close())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		getenv := func(name string) string {
			if name == "APP_URL" {
				return base
			}
			return ""
		}
		done <- run(ctx, nil, getenv, io.Discard, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "run")
		case <-time.After(15 * time.Second):
			t.Error("run did not return after its context was cancelled")
		}
	})

	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(base + "/")
		if err == nil {
			resp.Body.Close()
			return base
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer from %s: %v", base, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// elementText returns the text of the element with the given id, unescaped, or "".
func elementText(page, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

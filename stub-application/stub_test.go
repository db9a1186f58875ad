package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStubServesItsPages starts the stub as `go run` would and checks each
// route, then shuts it down.
func TestStubServesItsPages(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		getenv := func(name string) string {
			if name == "APP_URL" {
				return "http://" + addr
			}
			return ""
		}
		done <- run(ctx, nil, getenv, io.Discard, io.Discard)
	}()

	tests := []struct {
		path       string
		wantStatus int
		wantText   string
	}{
		{"/", http.StatusOK, "Welcome to Changebank, please login."},
		{"/", http.StatusOK, `id="login" class="button" href="/login"`},
		{"/login", http.StatusNotImplemented, "not connected to FusionAuth yet"},
		{"/static/changebank.css", http.StatusOK, ".button"},
		// Only the static folder: escaped dot-dots reach no template.
		{"/static/%2e%2e/templates/layout.html", http.StatusNotFound, `id="error"`},
		{"/static/..%2ftemplates/layout.html", http.StatusNotFound, `id="error"`},
		{"/account", http.StatusNotFound, `id="error"`},
	}
	for i, tt := range tests {
		var resp *http.Response
		if i == 0 {
			resp = waitForResponse(t, "http://"+addr+tt.path)
		} else {
			resp, err = http.Get("http://" + addr + tt.path)
			require.NoError(t, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, tt.wantStatus, resp.StatusCode, "GET %s", tt.path)
		assert.Contains(t, string(body), tt.wantText, "GET %s", tt.path)
		assert.NotContains(t, resp.Header.Get("Content-Security-Policy"), "unsafe-inline", "GET %s", tt.path)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), "GET %s", tt.path)
	}

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}
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

// waitForResponse polls url until the server answers.
func waitForResponse(t *testing.T, url string) *http.Response {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer from %s: %v", url, err)
		}
		time.Sleep(time.Millisecond)
	}
}

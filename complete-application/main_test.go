package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockedBuffer is a bytes.Buffer that run's logger and the test can share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRunServesAndShutsDown starts the real program, as `go run` would, with
// FusionAuth down: the home page answers at once, and cancelling the context
// shuts it down cleanly.
func TestRunServesAndShutsDown(t *testing.T) {
	addr := freeAddr(t)
	env := map[string]string{
		"APP_URL": "http://" + addr,
		"ISSUER":  "http://" + freeAddr(t), // Nothing listens there.
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- run(ctx, []string{"changebank"}, func(name string) string { return env[name] }, &stdout, &stderr)
	}()

	resp := waitForResponse(t, "http://"+addr+"/")
	t.Logf("start to first response: %s", time.Since(start))
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "Welcome to Changebank, please login.")

	resp, err = http.Get("http://" + addr + "/login")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "login while FusionAuth is down")

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}
	assert.Contains(t, stdout.String(), "Changebank is running at http://"+addr)
	assert.Contains(t, stderr.String(), "APP_SECRET_KEY is not set")
	assert.Contains(t, stderr.String(), "path=/login status=503")
	assert.NotContains(t, stderr.String(), "super-secret", "the log holds no secret")
}

func TestRunRefusesInvalidConfig(t *testing.T) {
	err := run(t.Context(), nil, func(name string) string {
		if name == "APP_SECRET_KEY" {
			return "short"
		}
		return ""
	}, io.Discard, io.Discard)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "APP_SECRET_KEY:"), err.Error())
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

package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer that run's goroutine and the test can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRunServesTheKickstartUntilCancelled(t *testing.T) {
	getenv := func(name string) string {
		if name == "FUSIONAUTH_APP_KICKSTART_FILE" {
			return "../../../kickstart/kickstart.json"
		}
		return ""
	}
	ctx, cancel := context.WithCancel(t.Context())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, getenv, &stdout, &stderr)
	}()
	// Should an assertion stop the test early, its server still stops before the test ends.
	t.Cleanup(func() {
		cancel()
		<-returned
	})

	listening := regexp.MustCompile(`Listening on (127\.0\.0\.1:\d+)`)
	var addr string
	require.Eventually(t, func() bool {
		m := listening.FindStringSubmatch(stdout.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	}, 5*time.Second, 10*time.Millisecond, "no Listening line; stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	assert.Contains(t, stdout.String(), "KickstartRunner - Summary")

	resp, err := http.Get("http://" + addr + "/api/status")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}
}

func TestRunRefusesAMissingKickstart(t *testing.T) {
	getenv := func(string) string { return "" } // the default path, absent from this folder
	var stdout, stderr syncBuffer
	err := run(t.Context(), []string{"-addr", "127.0.0.1:0"}, getenv, &stdout, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "kickstart/kickstart.json")
	assert.Contains(t, err.Error(), "FUSIONAUTH_APP_KICKSTART_FILE")
}

// A busy port is named, with what usually holds it and how to find out, not blamed on the
// kickstart file.
func TestRunSaysWhatToDoWhenThePortIsBusy(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { busy.Close() })
	_, port, err := net.SplitHostPort(busy.Addr().String())
	require.NoError(t, err)

	var stdout, stderr syncBuffer
	err = run(t.Context(), []string{"-addr", busy.Addr().String()}, func(string) string { return "" }, &stdout, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "port "+port+" is busy")
	assert.Contains(t, err.Error(), "docker compose down")
	assert.Contains(t, err.Error(), "sport = :"+port)
	assert.NotContains(t, err.Error(), "FUSIONAUTH_APP_KICKSTART_FILE")
}

func TestRunRefusesABadFlag(t *testing.T) {
	var stdout, stderr syncBuffer
	err := run(t.Context(), []string{"-no-such-flag"}, func(string) string { return "" }, &stdout, &stderr)
	require.Error(t, err)
	assert.Contains(t, stderr.String(), "-addr")
}

package e2e

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/testcontainers/testcontainers-go/wait"
)

// The readiness check of the FusionAuth container, against logs in FusionAuth's own format:
// the real image cannot be pulled on every machine, so this is where its fail-fast path runs.

func TestReadinessWaitsForKickstartSummary(t *testing.T) {
	tests := []struct {
		name     string
		log      string
		wantErr  string // "" means ready
		maxDelay time.Duration
	}{
		{
			name: "kickstart done",
			log: "INFO  io.fusionauth.app.FusionAuthMain - Starting FusionAuth HTTP server on port [9011]\n" +
				"INFO  io.fusionauth.api.service.system.kickstart.KickstartRunner - Summary: Applied [1] API keys and [5] requests in [812] ms\n",
			maxDelay: 250 * time.Millisecond,
		},
		{
			name: "kickstart request failed",
			log: "INFO  io.fusionauth.api.service.system.kickstart.KickstartRunner - Kickstart file [/usr/local/fusionauth/kickstart/kickstart.json] found, running [5] requests\n" +
				"ERROR io.fusionauth.api.service.system.kickstart.KickstartRunner - Failed to execute request to [POST][http://localhost:9011/api/application/e9fdb985] Status [400]\n",
			wantErr:  "Failed to execute request to [POST][http://localhost:9011/api/application/e9fdb985] Status [400]",
			maxDelay: 250 * time.Millisecond, // at once, not at the timeout
		},
		{
			name:     "still starting",
			log:      "INFO  io.fusionauth.app.FusionAuthMain - Starting FusionAuth HTTP server on port [9011]\n",
			wantErr:  "deadline exceeded",
			maxDelay: 2 * time.Second,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := kickstartFinished().WithStartupTimeout(500*time.Millisecond).WithPollInterval(10*time.Millisecond).
				WaitUntilReady(t.Context(), runningContainerWithLog{log: tc.log})
			if tc.wantErr == "" {
				assert.NoError(t, err, "log:\n%s", tc.log)
			} else if assert.Error(t, err, "log:\n%s", tc.log) {
				assert.Contains(t, err.Error(), tc.wantErr)
			}
			assert.Less(t, time.Since(start), tc.maxDelay, "time to decide")
		})
	}
}

// runningContainerWithLog is a running container whose log is fixed. The wait strategy calls
// only State and Logs; the embedded interface is nil, so any other call would panic.
type runningContainerWithLog struct {
	wait.StrategyTarget
	log string
}

func (c runningContainerWithLog) State(context.Context) (*container.State, error) {
	return &container.State{Running: true, Status: container.StateRunning}, nil
}

func (c runningContainerWithLog) Logs(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(c.log)), nil
}

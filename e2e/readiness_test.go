package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go/wait"

	"changebank/e2e/fusionauthtest"
)

// The readiness check of the FusionAuth container, against logs in FusionAuth's own format:
// the real image cannot be pulled on every machine, so this is where its fail-fast path runs.

func TestReadinessWaitsForKickstartSummary(t *testing.T) {
	t.Parallel() // no browser, no shared FusionAuth
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

// The choice of a target when FUSIONAUTH_TARGET is unset, with the machine's answers made up.

func TestChooseTargetWithoutFUSIONAUTH_TARGET(t *testing.T) {
	configured := runningProbe{listening: true, fusionAuth: true}
	standinCommand := runningProbe{listening: true, fusionAuth: true, standin: true}
	starting := runningProbe{listening: true, fusionAuth: true, notApplied: "richard@example.com is not registered yet"}
	other := runningProbe{listening: true, answer: "GET /api/status answers 404 Not Found"}
	noEngine := errors.New("Cannot connect to the Docker daemon")
	noRegistry := errors.New("pull fusionauth/fusionauth-app:1.69.0: no such host")

	tests := []struct {
		name      string
		running   runningProbe
		engine    error
		images    error
		want      string // the target
		wantWhy   string // part of the reason
		standin   bool
		wantErr   string // part of the error; "" for none
		wantAsked []string
	}{
		{name: "docker compose FusionAuth on 9011", running: configured, want: targetURL,
			wantWhy: "configured by this repository's kickstart", wantAsked: []string{"running"}},
		{name: "stand-in command on 9011", running: standinCommand, want: targetURL, standin: true,
			wantWhy: "configured by this repository's kickstart", wantAsked: []string{"running"}},
		{name: "FusionAuth on 9011 still applying the kickstart", running: starting, want: targetURL,
			wantWhy: "richard@example.com is not registered yet", wantAsked: []string{"running"}},
		{name: "9011 busy with something else", running: other,
			wantErr: "port 9011 is busy, but not with a FusionAuth (GET /api/status answers 404 Not Found)", wantAsked: []string{"running"}},
		{name: "no Docker engine", engine: noEngine, want: targetStandin,
			wantWhy: "no Docker engine answers (Cannot connect to the Docker daemon)", wantAsked: []string{"running", "engine"}},
		{name: "Docker engine without the images", images: noRegistry, want: targetStandin,
			wantWhy:   "THE REAL FUSIONAUTH'S IMAGES CANNOT BE HAD (pull fusionauth/fusionauth-app:1.69.0: no such host)",
			wantAsked: []string{"running", "engine", "images"}},
		{name: "Docker engine with the images", want: targetImage,
			wantWhy: "a Docker engine answers with the images", wantAsked: []string{"running", "engine", "images"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var asked []string
			got, err := chooseTarget(t.Context(), targetProbes{
				running: func(context.Context) runningProbe { asked = append(asked, "running"); return tc.running },
				engine:  func(context.Context) error { asked = append(asked, "engine"); return tc.engine },
				images:  func(context.Context) error { asked = append(asked, "images"); return tc.images },
			})
			assert.Equal(t, tc.wantAsked, asked, "probes asked, in order")
			if tc.wantErr != "" {
				if assert.Error(t, err) {
					assert.Contains(t, err.Error(), tc.wantErr)
					assert.Contains(t, err.Error(), "docker compose up -d --wait", "says what to do")
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.target, "target")
			assert.Contains(t, got.why, tc.wantWhy, "reason")
			assert.Equal(t, tc.standin, got.standinAt9011, "the FusionAuth at 9011 is the stand-in command")
		})
	}
}

func TestDescribeTargetNamesTheStandinCommand(t *testing.T) {
	tests := []struct {
		name string
		cfg  config
		want string
	}{
		{"stand-in command found", config{target: targetURL, fusionAuthURL: fusionAuthURL, chosen: "x", runningIsStandin: true},
			"stand-in command at http://localhost:9011 (NOT a real FusionAuth"},
		{"stand-in command given by FUSIONAUTH_URL", config{target: targetURL, fusionAuthURL: fusionAuthURL, runningIsStandin: true},
			"stand-in command at http://localhost:9011 (NOT a real FusionAuth"},
		{"docker compose found", config{target: targetURL, fusionAuthURL: fusionAuthURL, chosen: "x"},
			"FusionAuth already running at http://localhost:9011 (docker compose?)"},
		{"FusionAuth given by FUSIONAUTH_URL", config{target: targetURL, fusionAuthURL: "http://fa.test:9011"},
			"FusionAuth already running at http://fa.test:9011 (FUSIONAUTH_URL)"},
		{"in-process stand-in", config{target: targetStandin}, "in-process stand-in (NOT a real FusionAuth)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Contains(t, tc.cfg.describeTarget(), tc.want)
		})
	}
}

// A running FusionAuth, in the order a real one shows the kickstart: /api/status answers first,
// then the API key and the tenant's issuer appear, then the application, and the users'
// registrations last.

// Values from kickstart/kickstart.json: richard's id, the Changebank application's, the API key.
const (
	richardID       = "00000000-0000-0000-0000-111111111111"
	changebankAppID = "e9fdb985-9173-4e01-9d73-ac2d60d1dc8e"
	kickstartAPIKey = "changebank-development-api-key-regenerate-for-production"
)

// How far a fake FusionAuth's kickstart has got.
const (
	stageNothing       = iota // /api/status answers, the issuer is FusionAuth's default
	stageKeyAndIssuer         // the API key works, the tenant has the kickstart's issuer
	stageApplication          // the Changebank application exists
	stageRegistrations        // the users are registered: the kickstart is done
)

type fakeRunningFusionAuth struct {
	mu      sync.Mutex
	stage   int
	standin bool // send standinHeader
	srv     *httptest.Server
}

func newFakeRunningFusionAuth(t *testing.T, stage int, standin bool) *fakeRunningFusionAuth {
	t.Helper()
	f := &fakeRunningFusionAuth{stage: stage, standin: standin}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRunningFusionAuth) setStage(stage int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stage = stage
}

func (f *fakeRunningFusionAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	stage := f.stage
	f.mu.Unlock()
	if f.standin {
		w.Header().Set(fusionauthtest.StandinHeader, fusionauthtest.StandinHeaderValue)
	}
	keyOK := stage >= stageKeyAndIssuer && r.Header.Get("Authorization") == kickstartAPIKey
	switch r.URL.Path {
	case "/api/status":
		fmt.Fprint(w, `{"status":"ok"}`)
	case "/.well-known/openid-configuration":
		issuer := "acme.com" // FusionAuth's default tenant issuer
		if stage >= stageKeyAndIssuer {
			issuer = f.srv.URL
		}
		fmt.Fprintf(w, `{"issuer":%q}`, issuer)
	case "/api/application/" + changebankAppID:
		switch {
		case !keyOK:
			w.WriteHeader(http.StatusUnauthorized)
		case stage < stageApplication:
			w.WriteHeader(http.StatusNotFound)
		}
	case "/api/user/registration/" + richardID + "/" + changebankAppID:
		switch {
		case !keyOK:
			w.WriteHeader(http.StatusUnauthorized)
		case stage < stageRegistrations:
			w.WriteHeader(http.StatusNotFound)
		}
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// runningConfig is the suite's configuration pointed at a running FusionAuth at baseURL.
func runningConfig(t *testing.T, baseURL string) config {
	t.Helper()
	cfg, err := loadConfig(func(name string) string {
		if name == "FUSIONAUTH_API_KEY" {
			return "" // the kickstart's key, as the fake expects
		}
		return os.Getenv(name)
	})
	require.NoError(t, err)
	cfg.target, cfg.fusionAuthURL, cfg.startupTimeout = targetURL, baseURL, 10*time.Second
	return cfg
}

func TestRunningFusionAuthIsReadyOnlyWithTheRegistrations(t *testing.T) {
	tests := []struct {
		stage       int
		wantMissing string // "" means ready
	}{
		{stageNothing, `its issuer is "acme.com"`},
		{stageKeyAndIssuer, "no Changebank application yet"},
		{stageApplication, "richard@example.com is not registered yet"},
		{stageRegistrations, ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint("stage ", tc.stage), func(t *testing.T) {
			fake := newFakeRunningFusionAuth(t, tc.stage, false)
			state, err := readKickstartState(t.Context(), fake.srv.Client(), fake.srv.URL, runningConfig(t, fake.srv.URL))
			require.NoError(t, err)
			if tc.wantMissing == "" {
				assert.Empty(t, state.missing, "ready")
			} else {
				assert.Contains(t, state.missing, tc.wantMissing)
			}
			assert.False(t, state.standin, "no stand-in header, not the stand-in")
		})
	}
}

func TestRunningFusionAuthWithTheKeyRefusedIsNotReady(t *testing.T) {
	fake := newFakeRunningFusionAuth(t, stageRegistrations, false)
	cfg := runningConfig(t, fake.srv.URL)
	cfg.apiKey = "another-key"
	state, err := readKickstartState(t.Context(), fake.srv.Client(), fake.srv.URL, cfg)
	require.NoError(t, err)
	assert.True(t, state.keyRefused, "key refused")
	assert.Contains(t, state.missing, "refuses the kickstart's API key (401)")
}

func TestWaitForRunningFusionAuthWaitsForTheRegistrations(t *testing.T) {
	t.Parallel() // no browser, no shared FusionAuth
	fake := newFakeRunningFusionAuth(t, stageApplication, true)
	cfg := runningConfig(t, fake.srv.URL)
	const registeredAfter = 300 * time.Millisecond
	time.AfterFunc(registeredAfter, func() { fake.setStage(stageRegistrations) })
	start := time.Now()
	standin, err := waitForRunningFusionAuth(t.Context(), cfg, io.Discard)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), registeredAfter, "returned before richard was registered")
	assert.True(t, standin, "the stand-in header was seen")
}

func TestWaitForRunningFusionAuthStopsAtARefusedKey(t *testing.T) {
	fake := newFakeRunningFusionAuth(t, stageRegistrations, false)
	cfg := runningConfig(t, fake.srv.URL)
	cfg.apiKey = "another-key"
	start := time.Now()
	_, err := waitForRunningFusionAuth(t.Context(), cfg, io.Discard)
	if assert.Error(t, err) {
		assert.Contains(t, err.Error(), "refuses the kickstart's API key (401)")
		assert.Contains(t, err.Error(), "FUSIONAUTH_API_KEY", "says what to do")
	}
	assert.Less(t, time.Since(start), cfg.startupTimeout/2, "stopped at once, not at the timeout")
}

func TestProbeRunningFusionAuth(t *testing.T) {
	closedPort := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr
	}
	notHTTP := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close() // as docker's port proxy does while the container is not up
			}
		}()
		return "http://" + ln.Addr().String()
	}
	otherHTTP := func(t *testing.T) string {
		srv := httptest.NewServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		return srv.URL
	}
	fusionAuth := func(stage int, standin bool) func(t *testing.T) string {
		return func(t *testing.T) string { return newFakeRunningFusionAuth(t, stage, standin).srv.URL }
	}
	tests := []struct {
		name       string
		start      func(t *testing.T) string
		want       runningProbe // answer and notApplied are compared by prefix
		wantAnswer string
	}{
		{"nothing listens", closedPort, runningProbe{}, ""},
		{"not HTTP", notHTTP, runningProbe{listening: true}, `/api/status": `}, // EOF or a reset, by timing
		{"HTTP but not FusionAuth", otherHTTP, runningProbe{listening: true}, "GET /api/status answers 404"},
		{"FusionAuth before its kickstart", fusionAuth(stageNothing, false), runningProbe{listening: true, fusionAuth: true, notApplied: "its issuer"}, ""},
		{"configured FusionAuth", fusionAuth(stageRegistrations, false), runningProbe{listening: true, fusionAuth: true}, ""},
		{"configured stand-in command", fusionAuth(stageRegistrations, true), runningProbe{listening: true, fusionAuth: true, standin: true}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			baseURL := tc.start(t)
			got := probeRunningFusionAuth(t.Context(), baseURL, runningConfig(t, baseURL))
			assert.Equal(t, tc.want.listening, got.listening, "listening")
			assert.Equal(t, tc.want.fusionAuth, got.fusionAuth, "fusionAuth")
			assert.Equal(t, tc.want.standin, got.standin, "standin")
			assert.True(t, strings.HasPrefix(got.notApplied, tc.want.notApplied) && (tc.want.notApplied != "" || got.notApplied == ""),
				"notApplied = %q, want it to start with %q", got.notApplied, tc.want.notApplied)
			assert.Contains(t, got.answer, tc.wantAnswer, "answer")
			if tc.wantAnswer == "" {
				assert.Empty(t, got.answer, "answer")
			}
		})
	}
}

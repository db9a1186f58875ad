package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoadAccount is the load run: it builds the application, starts it as
// its own process on 127.0.0.1 against the FusionAuth stand-in, logs in, and
// sends logged-in GET /account requests from 32 concurrent clients. It
// reports requests per second, latency percentiles, the server's memory, and
// the time from starting the process to its first response. It uses wrk
// (apt-get install wrk) when installed, and a Go client otherwise.
//
// It takes about half a minute, so it runs only when asked:
//
//	CHANGEBANK_LOAD=1 go test ./complete-application -run TestLoadAccount -v
//
// CHANGEBANK_LOAD_DURATION (default 10s) sets the length of each run.
func TestLoadAccount(t *testing.T) {
	if os.Getenv("CHANGEBANK_LOAD") == "" {
		t.Skip("set CHANGEBANK_LOAD=1 to run the load test")
	}
	duration := 10 * time.Second
	if d, err := time.ParseDuration(os.Getenv("CHANGEBANK_LOAD_DURATION")); err == nil {
		duration = d
	}
	const clients = 32

	binary := filepath.Join(t.TempDir(), "changebank")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run(), "go build")

	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	addr := freeAddr(t)
	appURL := "http://" + addr
	registerRedirectURLs(t, idp, appURL)

	logPath := filepath.Join(t.TempDir(), "changebank.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	defer logFile.Close()
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("server log:\n%s", log)
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	server := exec.CommandContext(ctx, binary)
	server.Env = append(os.Environ(), "APP_URL="+appURL, "ISSUER="+idp.URL(), "APP_SECRET_KEY="+testSecretKey)
	server.Stdout = logFile
	server.Stderr = logFile
	server.Cancel = func() error { return server.Process.Signal(os.Interrupt) }

	start := time.Now()
	require.NoError(t, server.Start())
	t.Cleanup(func() { _ = server.Wait() })
	resp := waitForResponse(t, appURL+"/")
	startup := time.Since(start)
	resp.Body.Close()

	browser := &testApp{t: t, url: appURL, idp: idp, client: newBrowserClient(t)}
	require.NoError(t, browser.logInAs(testUserEmail, testUserPassword))
	appCookies := browser.client.Jar.Cookies(&url.URL{Scheme: "http", Host: addr})
	var cookieHeader []string
	for _, c := range appCookies {
		cookieHeader = append(cookieHeader, c.Name+"="+c.Value)
	}
	cookie := strings.Join(cookieHeader, "; ")
	require.Equal(t, http.StatusOK, browser.get("/account").StatusCode)

	t.Logf("start to first response: %s", startup.Round(time.Microsecond))

	// wrk is the load generator when it is installed: it costs far less CPU
	// per request than a Go client, and on a 2-core machine the generator
	// and the server share the same cores. One wrk thread drives all 32
	// connections (it is an event loop) and leaves the rest to the server.
	if wrk, err := exec.LookPath("wrk"); err == nil {
		target := appURL + "/account"
		warmUp := exec.Command(wrk, "-t1", fmt.Sprintf("-c%d", clients), "-d1s", "-H", "Cookie: "+cookie, target)
		require.NoError(t, warmUp.Run(), "wrk warm-up")
		out, err := exec.Command(wrk, "-t1", fmt.Sprintf("-c%d", clients), "-d"+duration.String(), "--latency",
			"-H", "Cookie: "+cookie, target).CombinedOutput()
		require.NoError(t, err, "wrk: %s", out)
		t.Logf("wrk -t1 -c%d -d%s --latency -H 'Cookie: <the session cookies>' %s\n%s", clients, duration, target, out)
		assert.Contains(t, string(out), "Requests/sec", "wrk ran")
		assert.NotContains(t, string(out), "Non-2xx", "every answer was 200")
	} else {
		transport := &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}
		defer transport.CloseIdleConnections()
		runLoad(t, appURL+"/account", cookie, transport, clients, time.Second) // Warm up.
		result := runLoad(t, appURL+"/account", cookie, transport, clients, duration)
		t.Logf("Go client (wrk is not installed), %d connections, %s: %d requests, %.0f req/s, p50 %s, p99 %s, max %s, %d errors",
			clients, duration, result.requests, result.perSecond, result.p50, result.p99, result.max, result.errors)
		assert.Zero(t, result.errors, "requests that did not answer 200")
	}
	rss, peak := processMemory(t, server.Process.Pid)
	t.Logf("server memory after the run: RSS %s, peak RSS %s", rss, peak)
}

type loadResult struct {
	requests, errors int
	perSecond        float64
	p50, p99, max    time.Duration
}

// runLoad sends GET target with the cookie from clients goroutines for d.
func runLoad(t *testing.T, target, cookie string, transport *http.Transport, clients int, d time.Duration) loadResult {
	t.Helper()
	client := &http.Client{Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	deadline := time.Now().Add(d)
	latencies := make([][]time.Duration, clients)
	errorCounts := make([]int, clients)
	var wg sync.WaitGroup
	began := time.Now()
	for i := range clients {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodGet, target, nil)
			if err != nil {
				errorCounts[i]++
				return
			}
			req.Header.Set("Cookie", cookie)
			for time.Now().Before(deadline) {
				sent := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errorCounts[i]++
					continue
				}
				_, _ = bufio.NewReader(resp.Body).WriteTo(discard{})
				resp.Body.Close()
				latencies[i] = append(latencies[i], time.Since(sent))
				if resp.StatusCode != http.StatusOK {
					errorCounts[i]++
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)

	all := slices.Concat(latencies...)
	slices.Sort(all)
	result := loadResult{requests: len(all), perSecond: float64(len(all)) / elapsed.Seconds()}
	for _, n := range errorCounts {
		result.errors += n
	}
	if len(all) > 0 {
		result.p50 = all[len(all)/2]
		result.p99 = all[len(all)*99/100]
		result.max = all[len(all)-1]
	}
	return result
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// processMemory reads the resident set size, now and at its peak, from /proc.
func processMemory(t *testing.T, pid int) (rss, peak string) {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown", "unknown"
	}
	for line := range strings.Lines(string(status)) {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "VmRSS:":
			rss = fields[1] + " kB"
		case "VmHWM:":
			peak = fields[1] + " kB"
		}
	}
	return rss, peak
}

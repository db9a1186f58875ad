package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// suite is what TestMain started for the tests. It is set once, before any test runs, and only
// read afterwards.
var suite struct {
	cfg        config
	fusionAuth *fusionAuth
	stubURL    string          // the stub application, on a free port
	appURL     string          // the complete application, on a free port
	browserCtx context.Context // the one Chrome; newBrowser opens a window in it per test
}

func TestMain(m *testing.M) {
	flag.Parse()
	// The browser tests spend most of their time waiting for pages, so more of them run at
	// once than go test's default of one per CPU, unless -parallel says how many.
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", "4")
	}
	os.Exit(runSuite(m))
}

// runSuite starts FusionAuth, both applications and Chrome, runs the tests and stops everything
// it started, also when the run is interrupted. It returns the exit code.
func runSuite(m *testing.M) (code int) {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: configuration: %v\n", err)
		return 1
	}
	if err := settleTarget(context.Background(), &cfg, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	suite.cfg = cfg
	printTarget(cfg)
	var (
		ranNothing bool
		testTime   time.Duration
	)
	defer func() { printClosingBanner(suite.cfg, code, ranNothing, testTime) }()

	td := &teardown{}
	defer td.run()
	ctx, setupDone := stopOnInterrupt(td)
	defer setupDone() // before td.run: an interrupt's teardown waits for this one
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}

	// Chrome first: it is quick to start, and without it nothing below is worth waiting for.
	browserCtx, stopChrome, err := startChrome(cfg)
	if err != nil && cfg.allowNoBrowser {
		// Run no test at all, so that go test reports "[no tests to run]" instead of a pass.
		fmt.Printf("e2e: NO BROWSER, NOTHING TESTED: %v\n", err)
		ranNothing = true
		flag.Set("test.run", "^$")
		return m.Run()
	}
	if err != nil {
		return fail(fmt.Errorf("%w\n%s", err, installChromeAdvice))
	}
	td.add(stopChrome)
	suite.browserCtx = browserCtx

	// Build while FusionAuth starts: a real FusionAuth takes a while, and the build needs none of it.
	binDir, err := os.MkdirTemp("", "changebank-e2e-")
	if err != nil {
		return fail(err)
	}
	td.add(func() { os.RemoveAll(binDir) })
	built := make(chan error, 1)
	go func() {
		start := time.Now()
		err := buildApps(ctx, cfg.root, binDir)
		if err == nil {
			fmt.Printf("e2e: built stub-application and complete-application in %s\n", time.Since(start).Round(100*time.Millisecond))
		}
		built <- err
	}()

	fa, err := startFusionAuth(ctx, cfg, os.Stdout)
	td.add(fa.stop)
	suite.fusionAuth = fa
	suite.cfg.runningIsStandin = fa.standinCommand // for the closing lines
	buildErr := <-built
	if err != nil {
		saveFusionAuthLog(fa)
		return fail(err)
	}
	if buildErr != nil {
		return fail(buildErr)
	}

	// The complete application runs on a free port rather than the kickstart's 5000, where the
	// reader's own may run; FusionAuth learns its callback and logout URLs for the run, and
	// gets its own back afterwards.
	appPort, err := freePort()
	if err != nil {
		return fail(err)
	}
	appURL := "http://localhost:" + appPort
	restore, err := authorizeAppURL(appURL)
	if err != nil {
		return fail(fmt.Errorf("authorize %s in FusionAuth's Changebank application: %w", appURL, err))
	}
	td.add(restore)

	// The complete application, configured as a reader would, with every setting it reads
	// named here so that none leaks in from the environment. CLIENT_ID and CLIENT_SECRET are
	// empty: the application then uses the kickstart's values. APP_SECRET_KEY is set so that
	// it does not warn about a random key.
	complete, err := startApp(filepath.Join(binDir, "complete-application"), appURL, []string{
		"APP_URL=" + appURL,
		"PORT=" + appPort,
		"ISSUER=" + fa.url,
		"CLIENT_ID=",
		"CLIENT_SECRET=",
		"APP_SECRET_KEY=" + randomSecret(),
	}, os.Stdout)
	if err != nil {
		return fail(err)
	}
	td.add(complete.stop)
	suite.appURL = appURL

	// The stub does not talk to FusionAuth yet, so any free port will do.
	stubPort, err := freePort()
	if err != nil {
		return fail(err)
	}
	stubURL := "http://localhost:" + stubPort
	stub, err := startApp(filepath.Join(binDir, "stub-application"), stubURL, []string{
		"APP_URL=" + stubURL,
		"PORT=" + stubPort,
	}, os.Stdout)
	if err != nil {
		return fail(err)
	}
	td.add(stub.stop)
	suite.stubURL = stubURL

	setupDone()
	if ctx.Err() != nil {
		return fail(errors.New("interrupted before the tests began"))
	}
	testStart := time.Now()
	code = m.Run()
	testTime = time.Since(testStart)
	if code != 0 {
		saveFusionAuthLog(fa)
	}
	return code
}

// teardown stops what the suite started, last started first, each thing once: at the end of
// the run, or earlier when the run is interrupted.
type teardown struct {
	mu    sync.Mutex
	stops []func()
}

func (td *teardown) add(stop func()) {
	td.mu.Lock()
	defer td.mu.Unlock()
	td.stops = append(td.stops, stop)
}

// run holds the lock while it stops everything, so that a second caller (an interrupt during
// the normal teardown) returns only once the first has finished, and never exits half way.
func (td *teardown) run() {
	td.mu.Lock()
	defer td.mu.Unlock()
	for i := len(td.stops) - 1; i >= 0; i-- {
		td.stops[i]()
	}
	td.stops = nil
}

// stopOnInterrupt tears down on Ctrl-C or SIGTERM, so that no container or program outlives
// an interrupted run. The context it returns is cancelled at the signal, which stops the build
// and FusionAuth's start; the teardown then waits for setupDone, so that whatever was starting
// at that moment has been handed to td. A second signal exits without waiting.
func stopOnInterrupt(td *teardown) (ctx context.Context, setupDone func()) {
	ctx, cancel := context.WithCancel(context.Background())
	settled := make(chan struct{})
	var once sync.Once
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-interrupted
		fmt.Fprintf(os.Stderr, "e2e: %v: stopping what the suite started\n", sig)
		cancel()
		select {
		case <-settled:
		case sig = <-interrupted:
			fmt.Fprintf(os.Stderr, "e2e: %v again: not waiting for the setup to let go\n", sig)
		}
		td.run()
		os.Exit(1)
	}()
	return ctx, func() { once.Do(func() { close(settled) }) }
}

// saveFusionAuthLog writes what FusionAuth logged to e2e/artifacts and prints its last lines.
func saveFusionAuthLog(fa *fusionAuth) {
	if fa == nil {
		return
	}
	log := fa.log.String()
	if strings.TrimSpace(log) == "" {
		return
	}
	path, err := filepath.Abs(filepath.Join("artifacts", "fusionauth.log"))
	if err == nil {
		err = os.MkdirAll(filepath.Dir(path), 0o755)
	}
	if err == nil {
		err = os.WriteFile(path, []byte(log), 0o644)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot save FusionAuth's log: %v\n", err)
	}
	fmt.Fprintf(os.Stderr, "e2e: FusionAuth's log is in %s; its last lines:\n%s\n", path, indent(fa.log.tail(60)))
}

// settleTarget fills in what the environment left open: the target when FUSIONAUTH_TARGET is
// unset (see chooseTarget), and whether a running FusionAuth is the stand-in command.
func settleTarget(ctx context.Context, cfg *config, progress io.Writer) error {
	switch cfg.target {
	case "":
		choice, err := chooseTarget(ctx, targetProbes{
			running: func(ctx context.Context) runningProbe { return probeRunningFusionAuth(ctx, fusionAuthURL, *cfg) },
			engine:  dockerEngineAnswers,
			images:  func(ctx context.Context) error { return realImagesAvailable(ctx, *cfg, progress) },
		})
		if err != nil {
			return err
		}
		cfg.target, cfg.chosen, cfg.runningIsStandin = choice.target, choice.why, choice.standinAt9011
		cfg.fusionAuthURL = fusionAuthURL // the only address chooseTarget looks at
	case targetURL:
		cfg.runningIsStandin = probeRunningFusionAuth(ctx, cfg.fusionAuthURL, *cfg).standin
	}
	return nil
}

// installChromeAdvice follows a failure to start Chrome: the browser suite cannot run without one.
const installChromeAdvice = `The browser suite needs Chrome or Chromium. To install it:
	Debian:  sudo apt-get install chromium
	Ubuntu:  sudo snap install chromium, or Google Chrome's .deb from https://www.google.com/chrome/
	macOS:   brew install --cask google-chrome (or install it from https://www.google.com/chrome/)
	CI:      GitHub's ubuntu-latest runners ship Google Chrome; on a Debian image, apt-get install -y chromium
Then run again, with CHROME_PATH=/path/to/chrome if it is not where chromedp looks.`

// printTarget names the FusionAuth of the run and, when the suite chose it, why.
func printTarget(cfg config) {
	fmt.Printf("e2e: FusionAuth target = %s\n", cfg.describeTarget())
	if cfg.chosen != "" {
		fmt.Printf("e2e: chosen because %s\n", cfg.chosen)
	}
}

// printClosingBanner repeats the target at the end of the output, where nobody misses it.
func printClosingBanner(cfg config, code int, ranNothing bool, testTime time.Duration) {
	result := fmt.Sprintf("PASS (the tests took %s)", testTime.Round(100*time.Millisecond))
	switch {
	case ranNothing:
		result = "NOTHING RAN (E2E_ALLOW_NO_BROWSER=1 and no browser)"
	case code != 0:
		result = "FAIL"
	}
	line := strings.Repeat("=", 78)
	fmt.Println(line)
	printTarget(cfg)
	fmt.Printf("e2e: result: %s\n%s\n", result, line)
}

func indent(s string) string {
	return "\t" + strings.ReplaceAll(s, "\n", "\n\t")
}

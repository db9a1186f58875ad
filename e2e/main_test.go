package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// suite is what TestMain started for the tests. It is set once, before any test runs, and only
// read afterwards.
var suite struct {
	cfg        config
	fusionAuth *fusionAuth
	stubURL    string          // the stub application, on a free port
	appURL     string          // the complete application: http://localhost:5000
	browserCtx context.Context // the one Chrome; newBrowser opens a window in it per test
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runSuite(m))
}

// runSuite starts FusionAuth, both applications and Chrome, runs the tests and stops everything
// it started. It returns the exit code.
func runSuite(m *testing.M) (code int) {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: configuration: %v\n", err)
		return 1
	}
	suite.cfg = cfg
	fmt.Printf("e2e: FusionAuth target = %s\n", cfg.describeTarget())
	ranNothing := false
	defer func() { printClosingBanner(cfg, code, ranNothing) }()

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
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer stopChrome()
	suite.browserCtx = browserCtx

	// Checked now rather than when the application starts, minutes later with a real FusionAuth.
	if err := requireFreePort(appPort, "the complete application (the kickstart authorizes only "+appURL+"/callback)",
		"stop what listens there, such as a `go run ./complete-application` started by hand"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}

	// Build while FusionAuth starts: a real FusionAuth takes a while, and the build needs none of it.
	binDir, err := os.MkdirTemp("", "changebank-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(binDir)
	built := make(chan error, 1)
	buildStart := time.Now()
	go func() { built <- buildApps(context.Background(), cfg.root, binDir) }()

	fa, err := startFusionAuth(context.Background(), cfg, os.Stdout)
	if fa != nil {
		suite.fusionAuth = fa
		defer fa.stop()
	}
	buildErr := <-built
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		saveFusionAuthLog(fa)
		return 1
	}
	if buildErr != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", buildErr)
		return 1
	}
	fmt.Printf("e2e: built stub-application and complete-application in %s\n", time.Since(buildStart).Round(100*time.Millisecond))

	// The complete application, with the settings a reader uses. APP_SECRET_KEY is set so
	// the application does not warn about a random key.
	complete, err := startApp(filepath.Join(binDir, "complete-application"), appURL, []string{
		"APP_URL=" + appURL,
		"ISSUER=" + fa.url,
		"APP_SECRET_KEY=" + randomSecret(),
	}, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer complete.stop()
	suite.appURL = appURL

	// The stub does not talk to FusionAuth yet, so any free port will do.
	stubURL, err := freeLocalURL()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	stub, err := startApp(filepath.Join(binDir, "stub-application"), stubURL, []string{
		"APP_URL=" + stubURL,
		"PORT=" + stubURL[strings.LastIndex(stubURL, ":")+1:],
	}, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer stub.stop()
	suite.stubURL = stubURL

	code = m.Run()
	if code != 0 {
		saveFusionAuthLog(fa)
	}
	return code
}

// saveFusionAuthLog writes what FusionAuth logged to e2e/artifacts and prints its last lines.
func saveFusionAuthLog(fa *fusionAuth) {
	if fa == nil {
		return
	}
	log := fa.log.String()
	if log == "" {
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

// printClosingBanner repeats the target at the end of the output, where nobody misses it.
func printClosingBanner(cfg config, code int, ranNothing bool) {
	result := "PASS"
	switch {
	case ranNothing:
		result = "NOTHING RAN (E2E_ALLOW_NO_BROWSER=1 and no browser)"
	case code != 0:
		result = "FAIL"
	}
	line := strings.Repeat("=", 78)
	fmt.Printf("%s\ne2e: FusionAuth target = %s\ne2e: result: %s\n%s\n", line, cfg.describeTarget(), result, line)
}

func indent(s string) string {
	return "\t" + strings.ReplaceAll(s, "\n", "\n\t")
}

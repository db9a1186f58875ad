package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"changebank/e2e/fusionauthtest"
)

// The fixed addresses of the tutorial. The kickstart sets FusionAuth's issuer to
// http://localhost:9011 and authorizes only http://localhost:5000/callback as a redirect, so
// the suite uses exactly these: FusionAuth on port 9011 and the complete application on 5000.
const (
	fusionAuthPort = "9011"
	fusionAuthURL  = "http://localhost:" + fusionAuthPort
	appPort        = "5000"
	appURL         = "http://localhost:" + appPort
)

// The values of FUSIONAUTH_TARGET.
const (
	targetImage        = "image"
	targetStandinImage = "standin-image"
	targetStandin      = "standin"
	targetURL          = "url"
)

// config is the suite's configuration, read once from the environment.
type config struct {
	root   string // the module's root directory, where go.mod is
	target string // one of the target constants

	fusionAuthImage  string // image target: fusionauth/fusionauth-app:<FUSIONAUTH_VERSION>
	postgresImage    string // image target: postgres:<POSTGRES_VERSION>
	standinImage     string // standin-image target: a prebuilt image, or "" to build it from the Dockerfile
	fusionAuthURL    string // url target: where FusionAuth already runs
	startupTimeout   time.Duration
	chromePath       string // "" lets chromedp look for Chrome
	allowNoBrowser   bool   // E2E_ALLOW_NO_BROWSER: run nothing, loudly, when Chrome is missing
	apiKey           string // the admin API key: the kickstart's, unless FUSIONAUTH_API_KEY says otherwise
	applicationID    string // the Changebank application's id, from the kickstart
	kickstartDirPath string
}

// loadConfig reads the environment (through getenv), the repository's .env and the kickstart.
func loadConfig(getenv func(string) string) (config, error) {
	root, err := moduleRoot()
	if err != nil {
		return config{}, err
	}
	cfg := config{
		root:             root,
		target:           getenv("FUSIONAUTH_TARGET"),
		standinImage:     getenv("FUSIONAUTH_STANDIN_IMAGE"),
		fusionAuthURL:    strings.TrimSuffix(getenv("FUSIONAUTH_URL"), "/"),
		chromePath:       getenv("CHROME_PATH"),
		allowNoBrowser:   getenv("E2E_ALLOW_NO_BROWSER") == "1",
		startupTimeout:   5 * time.Minute,
		kickstartDirPath: filepath.Join(root, "kickstart"),
	}
	if cfg.target == "" {
		cfg.target = targetImage
	}
	switch cfg.target {
	case targetImage, targetStandinImage, targetStandin, targetURL:
	default:
		return config{}, fmt.Errorf("FUSIONAUTH_TARGET=%q: want one of %s (default), %s, %s, %s",
			cfg.target, targetImage, targetStandinImage, targetStandin, targetURL)
	}
	if cfg.fusionAuthURL == "" {
		cfg.fusionAuthURL = fusionAuthURL
	}
	if s := getenv("FUSIONAUTH_STARTUP_TIMEOUT"); s != "" {
		if cfg.startupTimeout, err = time.ParseDuration(s); err != nil {
			return config{}, fmt.Errorf("FUSIONAUTH_STARTUP_TIMEOUT=%q: want a duration such as 5m: %w", s, err)
		}
	}

	// The versions come from .env, the file docker-compose.yml reads, so both run the same
	// FusionAuth. As with docker compose, a variable set in the environment wins.
	versions, err := readDotEnv(filepath.Join(root, ".env"))
	if err != nil {
		return config{}, err
	}
	for _, name := range []string{"FUSIONAUTH_VERSION", "POSTGRES_VERSION"} {
		if v := getenv(name); v != "" {
			versions[name] = v
		}
		if versions[name] == "" {
			return config{}, fmt.Errorf("%s is neither in the environment nor in %s", name, filepath.Join(root, ".env"))
		}
	}
	cfg.fusionAuthImage = "fusionauth/fusionauth-app:" + versions["FUSIONAUTH_VERSION"]
	cfg.postgresImage = "postgres:" + versions["POSTGRES_VERSION"]

	// The API key and the application id come from the kickstart, the single source of
	// FusionAuth's configuration, read by the stand-in's loader with every substitution.
	ks, err := fusionauthtest.LoadKickstart(filepath.Join(cfg.kickstartDirPath, "kickstart.json"), getenv)
	if err != nil {
		return config{}, err
	}
	cfg.apiKey, cfg.applicationID = ks.APIKeys[0].Key, ks.Variables["applicationId"]
	if cfg.applicationID == "" {
		return config{}, errors.New("the kickstart defines no variables.applicationId, the Changebank application's id")
	}
	if key := getenv("FUSIONAUTH_API_KEY"); key != "" {
		cfg.apiKey = key
	}
	return cfg, nil
}

// describeTarget names the FusionAuth the suite runs against, in words nobody can misread.
func (cfg config) describeTarget() string {
	switch cfg.target {
	case targetImage:
		return fmt.Sprintf("real FusionAuth, image %s with %s (testcontainers)", cfg.fusionAuthImage, cfg.postgresImage)
	case targetStandinImage:
		image := cfg.standinImage
		if image == "" {
			image = standinImageName + " built from e2e/cmd/fake-fusionauth/Dockerfile"
		}
		return fmt.Sprintf("stand-in container, image %s (testcontainers) (NOT a real FusionAuth)", image)
	case targetStandin:
		return "in-process stand-in (NOT a real FusionAuth)"
	default:
		return fmt.Sprintf("already running FusionAuth at %s (FUSIONAUTH_URL; real or not, whatever answers there)", cfg.fusionAuthURL)
	}
}

// moduleRoot walks up from the working directory (go test runs in the package's directory)
// to the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run the suite with go test from inside the repository")
		}
		dir = parent
	}
}

// readDotEnv reads NAME=value lines, the subset of the .env format this repository uses.
func readDotEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the pinned versions: %w", err)
	}
	defer f.Close()
	vars := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: %q is not NAME=value", path, line)
		}
		vars[strings.TrimSpace(name)] = strings.Trim(strings.TrimSpace(value), `"'`)
	}
	return vars, s.Err()
}

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"changebank/e2e/fusionauthtest"
)

// FusionAuth's fixed address: the kickstart sets its issuer to http://localhost:9011, and the
// application checks the issuer byte for byte. The complete application runs on a free port
// (the reader's own may hold 5000), which the suite authorizes in FusionAuth for the run.
const (
	fusionAuthPort = "9011"
	fusionAuthURL  = "http://localhost:" + fusionAuthPort
)

// The values of FUSIONAUTH_TARGET. Unset, the suite chooses one of them (see chooseTarget).
const (
	targetImage        = "image"
	targetStandinImage = "standin-image"
	targetStandin      = "standin"
	targetURL          = "url"
)

// config is the suite's configuration, read once from the environment.
type config struct {
	root   string // the module's root directory, where go.mod is
	target string // one of the target constants; "" until chooseTarget has chosen
	chosen string // when FUSIONAUTH_TARGET is unset: why the suite chose target, in one line

	// url target: whether the FusionAuth there said it is the stand-in command (see
	// standinHeader). Set once the suite has heard from it.
	runningIsStandin bool

	fusionAuthImage  string // image target: fusionauth/fusionauth-app:<FUSIONAUTH_VERSION>
	postgresImage    string // image target: postgres:<POSTGRES_VERSION>
	standinImage     string // standin-image target: a prebuilt image, or "" to build it from the Dockerfile
	fusionAuthURL    string // url target: where FusionAuth already runs
	startupTimeout   time.Duration
	chromePath       string // "" lets chromedp look for Chrome
	allowNoBrowser   bool   // E2E_ALLOW_NO_BROWSER: run nothing, loudly, when Chrome is missing
	apiKey           string // the admin API key: the kickstart's, unless FUSIONAUTH_API_KEY says otherwise
	applicationID    string // the Changebank application's id, from the kickstart
	lastRegistration kickstartRegistration
	kickstartDirPath string
}

// kickstartRegistration is a user registration the kickstart makes: which user, to which
// application.
type kickstartRegistration struct {
	userID, email, applicationID string
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
	switch cfg.target {
	case "", targetImage, targetStandinImage, targetStandin, targetURL:
	default:
		return config{}, fmt.Errorf("FUSIONAUTH_TARGET=%q: want one of %s, %s, %s, %s, or leave it unset to let the suite choose",
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
	if cfg.lastRegistration, err = lastRegistration(ks); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// lastRegistration finds the kickstart's last user registration. The kickstart runs its
// requests in order and registers the users last, so once that registration is visible the
// whole kickstart has been applied: the readiness wait for a running FusionAuth checks it.
func lastRegistration(ks *fusionauthtest.Kickstart) (kickstartRegistration, error) {
	for i := len(ks.Requests) - 1; i >= 0; i-- {
		r := ks.Requests[i]
		userID, ok := strings.CutPrefix(r.Path(), "/api/user/registration/")
		if r.Method != "POST" || !ok || userID == "" || strings.Contains(userID, "/") {
			continue
		}
		var body struct {
			User struct {
				Email string `json:"email"`
			} `json:"user"`
			Registration struct {
				ApplicationID string `json:"applicationId"`
			} `json:"registration"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			return kickstartRegistration{}, fmt.Errorf("the kickstart's request POST %s: %w", r.Path(), err)
		}
		if body.Registration.ApplicationID == "" {
			continue
		}
		return kickstartRegistration{userID: userID, email: body.User.Email, applicationID: body.Registration.ApplicationID}, nil
	}
	return kickstartRegistration{}, errors.New("the kickstart registers no user (POST /api/user/registration/{userId}): the suite logs in as the kickstart's users")
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
	case targetURL:
		switch {
		case cfg.runningIsStandin:
			return fmt.Sprintf("stand-in command at %s (NOT a real FusionAuth: it says so in its %s header)", cfg.fusionAuthURL, standinHeader)
		case cfg.chosen != "":
			return fmt.Sprintf("FusionAuth already running at %s (docker compose?)", cfg.fusionAuthURL)
		default:
			return fmt.Sprintf("FusionAuth already running at %s (FUSIONAUTH_URL)", cfg.fusionAuthURL)
		}
	default:
		return "not chosen yet"
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

// runningProbe is what answers at localhost:9011 before the suite starts anything there.
type runningProbe struct {
	listening  bool   // something accepts connections on the port
	fusionAuth bool   // it answers /api/status with 200, as FusionAuth does
	standin    bool   // its answer carries standinHeader: the stand-in command, not FusionAuth
	notApplied string // what of the kickstart it does not show yet; "" when it shows everything
	answer     string // when it is not FusionAuth: what it answered instead
}

// targetProbes ask the machine what it offers, for chooseTarget. Each is called at most once,
// and only when the answers before it leave the choice open.
type targetProbes struct {
	running func(context.Context) runningProbe // what answers at localhost:9011
	engine  func(context.Context) error        // nil when a Docker engine answers
	images  func(context.Context) error        // nil when the real FusionAuth's images are there or can be pulled
}

// chooseTarget picks the FusionAuth for a run without FUSIONAUTH_TARGET, preferring what proves
// the most without getting in the reader's way:
//
//  1. a FusionAuth already answering at localhost:9011, the reader's docker compose (or the
//     stand-in command, named as such): the port is taken anyway, and it is what they run;
//  2. the real image, when a Docker engine answers and the images can be had;
//  3. the in-process stand-in, which needs nothing.
//
// When the engine answers but the images cannot be pulled (no registry, offline), it falls back
// to the stand-in and says why rather than failing: a first `go test ./...` should be green and
// say exactly what it tested. FUSIONAUTH_TARGET=image is the way to insist on the real one.
// It fails when port 9011 is busy with something that is not FusionAuth: no target can listen
// there then.
func chooseTarget(ctx context.Context, p targetProbes) (targetChoice, error) {
	const unset = "FUSIONAUTH_TARGET is unset: "
	running := p.running(ctx)
	switch {
	case running.listening && running.fusionAuth && running.notApplied == "":
		return targetChoice{targetURL, unset + "a FusionAuth configured by this repository's kickstart answers at " + fusionAuthURL, running.standin}, nil
	case running.listening && running.fusionAuth:
		return targetChoice{targetURL, unset + "a FusionAuth answers at " + fusionAuthURL + " but does not show the whole kickstart yet (" +
			running.notApplied + "); waiting for it as FUSIONAUTH_TARGET=url does", running.standin}, nil
	case running.listening:
		return targetChoice{}, fmt.Errorf("port %s is busy, but not with a FusionAuth (%s). The suite needs that port for FusionAuth, "+
			"because the kickstart's issuer is %s. If it is a FusionAuth still starting, wait for it "+
			"(`docker compose up -d --wait`) and run again; otherwise stop what listens there", fusionAuthPort, running.answer, fusionAuthURL)
	}
	if err := p.engine(ctx); err != nil {
		return targetChoice{targetStandin, unset + "nothing answers at " + fusionAuthURL + " and no Docker engine answers (" + oneLine(err) +
			"); FUSIONAUTH_TARGET=image insists on the real FusionAuth", false}, nil
	}
	if err := p.images(ctx); err != nil {
		return targetChoice{targetStandin, unset + "a Docker engine answers, but THE REAL FUSIONAUTH'S IMAGES CANNOT BE HAD (" + oneLine(err) +
			"), so this run uses the stand-in instead; FUSIONAUTH_TARGET=image insists on the real FusionAuth", false}, nil
	}
	return targetChoice{targetImage, unset + "nothing answers at " + fusionAuthURL + " and a Docker engine answers with the images", false}, nil
}

// targetChoice is what chooseTarget chose.
type targetChoice struct {
	target        string
	why           string // one line, printed with the target before and after the run
	standinAt9011 bool   // the FusionAuth at 9011 is the stand-in command
}

// oneLine keeps an error to the first line of its message, for the one-line reason.
func oneLine(err error) string {
	first, _, _ := strings.Cut(err.Error(), "\n")
	return first
}

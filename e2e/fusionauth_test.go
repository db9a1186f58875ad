package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	dockernetwork "github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"changebank/e2e/fusionauthtest"
)

// fusionAuth is the FusionAuth the suite runs against, whichever target started it.
type fusionAuth struct {
	url     string                 // its base URL, also the issuer: http://localhost:9011
	log     *lineLog               // everything it logged, saved as an artifact when a test fails
	standin *fusionauthtest.Server // the in-process stand-in, nil for the other targets
	// url target: the FusionAuth there said it is the stand-in command (see standinHeader)
	standinCommand bool
	stops          []func() // undo what was started, in reverse order
}

// stop stops the containers, network or server that were started, last started first. Call it
// once.
func (fa *fusionAuth) stop() {
	for i := len(fa.stops) - 1; i >= 0; i-- {
		fa.stops[i]()
	}
	fa.stops = nil
}

// startFusionAuth starts (or, for the url target, finds) FusionAuth and returns once it is ready:
// serving, with the kickstart applied. Even with an error it returns fa: its stop method stops
// whatever did start, and its log tells what went wrong.
func startFusionAuth(ctx context.Context, cfg config, progress io.Writer) (fa *fusionAuth, err error) {
	fa = &fusionAuth{url: fusionAuthURL, log: &lineLog{}}
	start := time.Now()
	switch cfg.target {
	case targetImage:
		err = startFusionAuthImage(ctx, cfg, fa, progress)
	case targetStandinImage:
		err = startStandinImage(ctx, cfg, fa, progress)
	case targetStandin:
		err = startStandin(cfg, fa)
	case targetURL:
		fa.url = cfg.fusionAuthURL
		fa.standinCommand, err = waitForRunningFusionAuth(ctx, cfg, progress)
	}
	if err != nil {
		return fa, err
	}
	fmt.Fprintf(progress, "e2e: FusionAuth ready at %s after %s\n", fa.url, time.Since(start).Round(100*time.Millisecond))
	return fa, nil
}

// The FusionAuth container's settings: the same as docker-compose.yml's. The passwords are the
// development values of a throwaway database.
var fusionAuthEnv = map[string]string{
	"DATABASE_URL":                  "jdbc:postgresql://db:5432/fusionauth",
	"DATABASE_ROOT_USERNAME":        "postgres",
	"DATABASE_ROOT_PASSWORD":        "postgres",
	"DATABASE_USERNAME":             "fusionauth",
	"DATABASE_PASSWORD":             "fusionauth-development-password",
	"FUSIONAUTH_APP_MEMORY":         "512M",
	"FUSIONAUTH_APP_RUNTIME_MODE":   "development",
	"FUSIONAUTH_APP_URL":            "http://fusionauth:9011",
	"FUSIONAUTH_APP_KICKSTART_FILE": kickstartDirInContainer + "/kickstart.json",
	// The database as the search engine: no OpenSearch container, and a start in about 30 s
	// instead of several minutes.
	"SEARCH_TYPE": "database",
}

// kickstartDirInContainer is where FusionAuth's image expects the kickstart folder.
const kickstartDirInContainer = "/usr/local/fusionauth/kickstart"

// startFusionAuthImage starts PostgreSQL and the real FusionAuth on a private network.
func startFusionAuthImage(ctx context.Context, cfg config, fa *fusionAuth, progress io.Writer) error {
	if err := requireNoListener(fusionAuthPort, imagePortUse); err != nil {
		return err
	}
	nw, err := network.New(ctx)
	if err != nil {
		return dockerProblem("create a Docker network", err)
	}
	fa.stops = append(fa.stops, func() { warnOnError(nw.Remove(context.Background()), "remove the Docker network") })

	fmt.Fprintf(progress, "e2e: starting %s\n", cfg.postgresImage)
	db, err := testcontainers.Run(ctx, cfg.postgresImage,
		network.WithNetwork([]string{"db"}, nw),
		testcontainers.WithEnv(map[string]string{"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "postgres"}),
		// Only FusionAuth, on the private network, needs the database. Its port is published
		// on a random port of the loopback address only, because testcontainers would otherwise
		// publish it on every interface of the machine.
		testcontainers.WithExposedPorts("5432/tcp"),
		publishOnLoopback("5432", "0"),
		// PostgreSQL's first start initialises the database, then restarts: it is ready at the
		// second "ready" line.
		testcontainers.WithWaitStrategy(wait.ForLog("database system is ready to accept connections").
			WithOccurrence(2).WithStartupTimeout(cfg.startupTimeout)),
	)
	fa.stops = append(fa.stops, func() { warnOnError(testcontainers.TerminateContainer(db), "stop PostgreSQL") })
	if err != nil {
		return dockerProblem("start "+cfg.postgresImage, err)
	}

	return runFusionAuthContainer(ctx, cfg, fa, progress, cfg.fusionAuthImage,
		network.WithNetwork([]string{"fusionauth"}, nw),
		testcontainers.WithEnv(fusionAuthEnv),
	)
}

// standinImageName is the tag the suite gives the stand-in's image when it builds it.
const standinImageName = "changebank/fake-fusionauth:dev"

// startStandinImage runs the stand-in's container image through the same code as the real
// FusionAuth: the kickstart copied in, port 9011 published, the same readiness checks. It
// needs no database. Unless FUSIONAUTH_STANDIN_IMAGE names an image that is already built, it
// compiles the static binary and builds the image from e2e/cmd/fake-fusionauth/Dockerfile.
func startStandinImage(ctx context.Context, cfg config, fa *fusionAuth, progress io.Writer) error {
	if err := requireNoListener(fusionAuthPort, standinImagePortUse); err != nil {
		return err
	}
	image := cfg.standinImage
	var build []testcontainers.ContainerCustomizer
	if image == "" {
		buildContext, err := standinBuildContext(ctx, cfg.root)
		if err != nil {
			return err
		}
		defer os.RemoveAll(buildContext)
		repo, tag, _ := strings.Cut(standinImageName, ":")
		fmt.Fprintf(progress, "e2e: building %s from e2e/cmd/fake-fusionauth/Dockerfile\n", standinImageName)
		build = append(build, testcontainers.WithDockerfile(testcontainers.FromDockerfile{
			Context:        buildContext,
			Repo:           repo,
			Tag:            tag,
			KeepImage:      true,
			BuildLogWriter: fa.log,
		}))
	}
	return runFusionAuthContainer(ctx, cfg, fa, progress, image, append(build,
		testcontainers.WithEnv(map[string]string{"FUSIONAUTH_APP_KICKSTART_FILE": fusionAuthEnv["FUSIONAUTH_APP_KICKSTART_FILE"]}))...)
}

// standinBuildContext compiles the stand-in as a static binary and returns a temporary
// directory holding it next to its Dockerfile: the build context the Dockerfile expects.
func standinBuildContext(ctx context.Context, root string) (string, error) {
	dir, err := os.MkdirTemp("", "changebank-fake-fusionauth-")
	if err != nil {
		return "", err
	}
	src := filepath.Join(root, "e2e", "cmd", "fake-fusionauth")
	build := goCommand(ctx, root, "build", "-o", filepath.Join(dir, "fake-fusionauth"), "./e2e/cmd/fake-fusionauth")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("compile the stand-in for its image: %w\n%s", err, out)
	}
	for _, name := range []string{"Dockerfile", ".dockerignore"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if errors.Is(err, fs.ErrNotExist) && name != "Dockerfile" {
			continue
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name), b, 0o644)
		}
		if err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("prepare the stand-in's build context: %w", err)
		}
	}
	return dir, nil
}

// runFusionAuthContainer starts a FusionAuth image (real or stand-in) with the project's
// kickstart, published on 127.0.0.1:9011, and waits until it is ready.
//
// The host port is fixed because the kickstart sets the issuer to http://localhost:9011: the
// discovery document, the browser and the application must all agree on that URL, and a random
// port would break the issuer check that the complete application (rightly) insists on.
func runFusionAuthContainer(ctx context.Context, cfg config, fa *fusionAuth, progress io.Writer, image string, opts ...testcontainers.ContainerCustomizer) error {
	kickstart, err := kickstartFiles(cfg.kickstartDirPath)
	if err != nil {
		return err
	}
	opts = append(opts,
		// Copied in rather than bind-mounted, so it also works with a remote Docker engine.
		testcontainers.WithFiles(kickstart...),
		testcontainers.WithExposedPorts(fusionAuthPort+"/tcp"),
		publishOnLoopback(fusionAuthPort, fusionAuthPort),
		testcontainers.WithLogConsumerConfig(&testcontainers.LogConsumerConfig{
			Consumers: []testcontainers.LogConsumer{fa.log},
		}),
		testcontainers.WithWaitStrategyAndDeadline(cfg.startupTimeout,
			wait.ForHTTP("/api/status").WithPort(fusionAuthPort+"/tcp").
				WithStartupTimeout(cfg.startupTimeout).WithPollInterval(time.Second),
			kickstartFinished().WithStartupTimeout(cfg.startupTimeout).WithPollInterval(time.Second),
		),
	)

	name := image
	if name == "" {
		name = standinImageName
	}
	fmt.Fprintf(progress, "e2e: starting %s; waiting for /api/status and %q in its log (at most %s)\n",
		name, "KickstartRunner - Summary", cfg.startupTimeout)
	var started time.Time // when the container started, after any pull or build
	opts = append(opts, testcontainers.WithAdditionalLifecycleHooks(testcontainers.ContainerLifecycleHooks{
		PostStarts: []testcontainers.ContainerHook{func(context.Context, testcontainers.Container) error {
			started = time.Now()
			return nil
		}},
	}))
	stopProgress := reportProgress(progress, "FusionAuth to start and apply the kickstart", cfg.startupTimeout, fa.log.lastLine)
	c, err := testcontainers.Run(ctx, image, opts...)
	stopProgress()
	fa.stops = append(fa.stops, func() { warnOnError(testcontainers.TerminateContainer(c), "stop FusionAuth") })
	if err != nil {
		return dockerProblem("start "+name, err)
	}
	fmt.Fprintf(progress, "e2e: the %s container was ready (kickstart applied) %s after it started\n",
		name, time.Since(started).Round(100*time.Millisecond))
	return nil
}

// kickstartFinished waits for FusionAuth's log to report the kickstart's summary. /api/status
// answers 200 before the kickstart has run, so it alone is not enough. When the log reports a
// failed kickstart request the wait ends at once: FusionAuth stops the kickstart there and
// would otherwise serve half configured until the timeout.
func kickstartFinished() *wait.LogStrategy {
	const failed = "Failed to execute request to"
	return wait.ForLog(`KickstartRunner - Summary|` + failed + `[^\n]*`).Submatch(func(_ string, matches [][][]byte) error {
		for _, m := range matches {
			if bytes.HasPrefix(m[0], []byte(failed)) {
				return wait.NewPermanentError(fmt.Errorf("FusionAuth's kickstart failed: %s", m[0]))
			}
		}
		if len(matches) == 0 {
			return errors.New(`no "KickstartRunner - Summary" in FusionAuth's log yet`)
		}
		return nil
	})
}

// kickstartFiles lists every file of the kickstart folder (kickstart.json may include others
// with @{file} or &{file}), to be copied to the image's kickstart folder.
func kickstartFiles(dir string) ([]testcontainers.ContainerFile, error) {
	var files []testcontainers.ContainerFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, testcontainers.ContainerFile{
			HostFilePath:      p,
			ContainerFilePath: path.Join(kickstartDirInContainer, filepath.ToSlash(rel)),
			FileMode:          0o644, // readable by the image's unprivileged user
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the kickstart files: %w", err)
	}
	return files, nil
}

// publishOnLoopback publishes a container's TCP port on 127.0.0.1 only, at hostPort ("0" for a
// random one).
func publishOnLoopback(containerPort, hostPort string) testcontainers.CustomizeRequestOption {
	return testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
		if hc.PortBindings == nil {
			hc.PortBindings = dockernetwork.PortMap{}
		}
		hc.PortBindings[dockernetwork.MustParsePort(containerPort+"/tcp")] = []dockernetwork.PortBinding{
			{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: hostPort},
		}
	})
}

// startStandin runs the stand-in in this process on 127.0.0.1:9011.
func startStandin(cfg config, fa *fusionAuth) error {
	ln, err := claimPort(fusionAuthPort, standinPortUse)
	if err != nil {
		return err
	}
	return serveStandin(cfg, fa, ln)
}

// serveStandin applies the kickstart and serves the stand-in on ln, the socket the port was
// claimed with. Serving on that very socket is the point: between a check that listens and
// closes and the stand-in listening again, a child process forked meanwhile (the suite builds
// the applications then) holds a copy of every socket until it execs, and would take the port
// now and then. Connections made while the kickstart runs wait in ln's backlog, so
// /api/status answers only once the stand-in is ready. It closes ln when it fails.
func serveStandin(cfg config, fa *fusionAuth, ln net.Listener) error {
	srv, err := fusionauthtest.New(fusionauthtest.Options{
		KickstartPath: filepath.Join(cfg.kickstartDirPath, "kickstart.json"),
		Log:           fa.log,
	})
	if err != nil {
		ln.Close()
		return fmt.Errorf("start the in-process FusionAuth stand-in: %w", err)
	}
	httpSrv := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(fa.log, "e2e: the in-process stand-in stopped serving: %v\n", err)
		}
	}()
	fa.standin = srv
	fa.stops = append(fa.stops, func() {
		srv.Close() // first, so that a handler held by a fault lets go and Shutdown can finish
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := httpSrv.Shutdown(ctx); err != nil {
			httpSrv.Close()
		}
		<-served
	})
	return nil
}

// standinHeader is the response header by which the stand-in, in process or as a command or
// image, says it is not FusionAuth. A real FusionAuth never sends it.
const standinHeader = fusionauthtest.StandinHeader

// kickstartState is what a running FusionAuth shows of the kickstart.
type kickstartState struct {
	standin    bool   // it answered with standinHeader
	keyRefused bool   // its admin API refuses the kickstart's API key
	missing    string // the first effect of the kickstart it does not show yet; "" when it shows all
}

// readKickstartState asks the FusionAuth at baseURL how much of the kickstart it shows. A real
// /api/status answers 200 before the kickstart has run, so it also checks the kickstart's
// effects in their order: the tenant's issuer, the Changebank application and, last, the user
// registration the kickstart makes last. It fails when /api/status does not answer 200: then
// it is not a FusionAuth, or not one that has started.
func readKickstartState(ctx context.Context, client *http.Client, baseURL string, cfg config) (kickstartState, error) {
	var state kickstartState
	get := func(path, apiKey string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+path, nil)
		if err != nil {
			return nil, err
		}
		if apiKey != "" {
			req.Header.Set("Authorization", apiKey)
		}
		resp, err := client.Do(req)
		if err == nil && resp.Header.Get(standinHeader) != "" {
			state.standin = true
		}
		return resp, err
	}

	resp, err := get("/api/status", "")
	if err != nil {
		return state, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return state, fmt.Errorf("GET /api/status answers %s", resp.Status)
	}

	resp, err = get("/.well-known/openid-configuration", "")
	if err != nil {
		return state, err
	}
	var discovery struct {
		Issuer string `json:"issuer"`
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&discovery)
	resp.Body.Close()
	switch {
	case resp.StatusCode != http.StatusOK:
		state.missing = "its discovery document answers " + resp.Status
		return state, nil
	case err != nil || discovery.Issuer != baseURL:
		// The kickstart sets the issuer; until then it is FusionAuth's default.
		state.missing = fmt.Sprintf("its issuer is %q, not %q", discovery.Issuer, baseURL)
		return state, nil
	}

	reg := cfg.lastRegistration
	for _, effect := range []struct{ path, notYet string }{
		{"/api/application/" + cfg.applicationID, "no Changebank application yet"},
		{"/api/user/registration/" + reg.userID + "/" + reg.applicationID, reg.email + " is not registered yet (the kickstart's last request)"},
	} {
		resp, err := get(effect.path, cfg.apiKey)
		if err != nil {
			return state, err
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			continue
		case http.StatusUnauthorized:
			state.keyRefused = true
			state.missing = "its admin API refuses the kickstart's API key (401)"
		case http.StatusNotFound:
			state.missing = effect.notYet
		default:
			state.missing = fmt.Sprintf("GET %s answers %s", effect.path, resp.Status)
		}
		return state, nil
	}
	return state, nil
}

// probeRunningFusionAuth looks, once and quickly, at what answers at baseURL.
func probeRunningFusionAuth(ctx context.Context, baseURL string, cfg config) runningProbe {
	u, err := url.Parse(baseURL)
	if err != nil {
		return runningProbe{listening: true, answer: err.Error()}
	}
	conn, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err != nil {
		return runningProbe{} // nothing listens
	}
	conn.Close()
	state, err := readKickstartState(ctx, &http.Client{Timeout: 3 * time.Second}, baseURL, cfg)
	if err != nil {
		return runningProbe{listening: true, standin: state.standin, answer: err.Error()}
	}
	return runningProbe{listening: true, fusionAuth: true, standin: state.standin, notApplied: state.missing}
}

// waitForRunningFusionAuth waits until the FusionAuth at FUSIONAUTH_URL shows every effect of
// the kickstart (see readKickstartState): a `docker compose up -d --wait` returns when
// FusionAuth is healthy, which may be before its kickstart has run. It reports whether the
// FusionAuth there is the stand-in command.
func waitForRunningFusionAuth(ctx context.Context, cfg config, progress io.Writer) (standin bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.startupTimeout)
	defer cancel()
	var (
		last string
		mu   sync.Mutex // last is read by the progress reporter
	)
	stopProgress := reportProgress(progress, "the FusionAuth at "+cfg.fusionAuthURL, cfg.startupTimeout, func() string {
		mu.Lock()
		defer mu.Unlock()
		return last
	})
	defer stopProgress()
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		state, err := readKickstartState(ctx, client, cfg.fusionAuthURL, cfg)
		switch {
		case err == nil && state.missing == "":
			return state.standin, nil
		case err == nil && state.keyRefused:
			// The kickstart creates its API key before it sets the issuer, which
			// readKickstartState has already seen: this key will not come.
			return state.standin, fmt.Errorf("FusionAuth at %s refuses the kickstart's API key (401) although it has the kickstart's issuer: was it configured by another version of this kickstart? Set FUSIONAUTH_API_KEY if it uses another key, or start afresh with `docker compose down -v`", cfg.fusionAuthURL)
		}
		mu.Lock()
		if err != nil {
			last = err.Error()
		} else {
			last = state.missing
		}
		mu.Unlock()
		select {
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return state.standin, fmt.Errorf("stopped waiting for the FusionAuth at %s: %w", cfg.fusionAuthURL, ctx.Err())
			}
			return state.standin, fmt.Errorf("the FusionAuth at %s did not show the whole kickstart within %s (last: %s): start it with `docker compose up -d --wait`; a FusionAuth whose database was configured otherwise needs `docker compose down -v` first, so that the kickstart runs again", cfg.fusionAuthURL, cfg.startupTimeout, last)
		case <-time.After(time.Second):
		}
	}
}

// portUse names who needs a fixed port and what to do when another program holds it.
type portUse struct{ what, advice string }

var (
	fusionAuthPortAdvice = "stop what listens there (`docker compose down` if it is this repository's FusionAuth), " +
		"or leave FUSIONAUTH_TARGET unset (or set it to url) to run the suite against the FusionAuth already there"
	standinPortUse      = portUse{"the FusionAuth stand-in (the kickstart's issuer is " + fusionAuthURL + ")", fusionAuthPortAdvice}
	standinImagePortUse = portUse{"the FusionAuth stand-in's container (the kickstart's issuer is " + fusionAuthURL + ")", fusionAuthPortAdvice}
	imagePortUse        = portUse{"FusionAuth (the kickstart's issuer is " + fusionAuthURL + ")", fusionAuthPortAdvice}
)

func (u portUse) busy(port string, err error) error {
	return fmt.Errorf("port %s is busy, but %s must listen on it: %s (%w)", port, u.what, u.advice, err)
}

// claimPort binds 127.0.0.1:port for a server of this process, which must serve on the
// listener it returns: the port is never let go between the check and the serving.
func claimPort(port string, use portUse) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		return nil, use.busy(port, err)
	}
	return ln, nil
}

// requireNoListener fails with advice when something accepts connections at localhost:port,
// before another program (a container's published port, the complete application) is started
// there. It connects instead of listening: a listener of its own, however briefly open, could
// be copied into a child process forked at that moment and hold the port past its close.
// localhost covers 127.0.0.1 and ::1, both of which the browser may try.
func requireNoListener(port string, use portUse) error {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("localhost", port), time.Second)
	if err != nil {
		return nil // refused (or unreachable): nothing there to get in the way
	}
	conn.Close()
	return use.busy(port, errors.New("something accepts connections at localhost:"+port))
}

// dockerProblem wraps a container error with its likely causes.
func dockerProblem(what string, err error) error {
	hints := []string{"the Docker engine must be running and able to pull or build the image " +
		"(FUSIONAUTH_TARGET=standin needs no Docker, standin-image no registry; " +
		"with FUSIONAUTH_TARGET unset the suite runs what this machine can)"}
	if strings.Contains(err.Error(), "reaper") && os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		hints = append(hints, "testcontainers could not start its Ryuk reaper: set TESTCONTAINERS_RYUK_DISABLED=true "+
			"where its image cannot be pulled (the suite removes its containers itself)")
	}
	if _, statErr := os.Stat("/.dockerenv"); statErr == nil && os.Getenv("TESTCONTAINERS_HOST_OVERRIDE") == "" {
		hints = append(hints, "inside a container, set TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 so that testcontainers "+
			"reaches the published ports on the loopback address")
	}
	return fmt.Errorf("%s: %w\n\t%s", what, err, strings.Join(hints, "\n\t"))
}

func warnOnError(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: could not %s: %v\n", what, err)
	}
}

// reportProgress prints, every 15 seconds until stop is called, how long the suite has been
// waiting and the last thing it heard: FusionAuth can take minutes to start on a CI machine.
func reportProgress(w io.Writer, what string, limit time.Duration, lastLine func() string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		start := time.Now()
		tick := time.NewTicker(15 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fmt.Fprintf(w, "e2e: still waiting for %s (%s of at most %s); last: %s\n",
					what, time.Since(start).Round(time.Second), limit, lastLine())
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// lineLog collects a program's log: it is a testcontainers.LogConsumer and an io.Writer.
type lineLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// Accept implements testcontainers.LogConsumer.
func (l *lineLog) Accept(entry testcontainers.Log) { l.Write(entry.Content) }

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *lineLog) lastLine() string {
	lines := strings.Split(strings.TrimSpace(l.String()), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// tail returns the last n lines.
func (l *lineLog) tail(n int) string {
	lines := strings.Split(strings.TrimRight(l.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// dockerEngineAnswers asks testcontainers whether a Docker engine answers, within a few
// seconds: an engine that is configured but unreachable should not hold up the choice.
func dockerEngineAnswers(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	answered := make(chan error, 1)
	go func() {
		provider, err := testcontainers.NewDockerProvider()
		if err != nil {
			answered <- err
			return
		}
		defer provider.Close()
		answered <- provider.Health(ctx)
	}()
	select {
	case err := <-answered:
		return err
	case <-ctx.Done():
		return fmt.Errorf("the Docker engine did not answer: %w", ctx.Err())
	}
}

// realImagesAvailable makes sure the real FusionAuth's images are on the engine, pulling the
// ones that are not, as testcontainers would at the start of the image target.
func realImagesAvailable(ctx context.Context, cfg config, progress io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.startupTimeout)
	defer cancel()
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return err
	}
	defer provider.Close()
	for _, image := range []string{cfg.fusionAuthImage, cfg.postgresImage} {
		if _, err := provider.Client().ImageInspect(ctx, image); err == nil {
			continue
		}
		fmt.Fprintf(progress, "e2e: pulling %s\n", image)
		if err := provider.PullImage(ctx, image); err != nil {
			return fmt.Errorf("pull %s: %w", image, err)
		}
	}
	return nil
}

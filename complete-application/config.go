package main

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"
)

const defaultPort = "5000"

// The development values from kickstart/kickstart.json. They are defaults so
// that `go run` works against the local FusionAuth that docker compose starts;
// anywhere else, set the environment variables instead.
const (
	kickstartIssuer       = "http://localhost:9011"
	kickstartClientID     = "e9fdb985-9173-4e01-9d73-ac2d60d1dc8e"
	kickstartClientSecret = "super-secret-secret-that-should-be-regenerated-for-production"
)

// config is everything the application reads from its environment, checked.
type config struct {
	appURL     *url.URL // the public base URL, as a browser sees it
	listenAddr string

	issuer       string // discovery is at issuer + "/.well-known/openid-configuration"
	clientID     string
	clientSecret string
	// secretKeys seal the cookies: the first seals and opens, an earlier
	// one only opens, so the key can change without logging anyone out.
	secretKeys [][]byte

	sessionIdleTimeout time.Duration
	sessionMaxLifetime time.Duration

	warnings []string // printed once the logger exists
}

// loadConfig reads the configuration from getenv (os.Getenv outside tests) and
// refuses values that cannot work, naming the variable to fix:
//
//	PORT            the port to listen on (APP_URL's port, else 5000)
//	APP_URL         the app's public base URL (http://localhost:PORT)
//	ISSUER          FusionAuth's issuer (http://localhost:9011)
//	CLIENT_ID       the application's client id (the kickstart's)
//	CLIENT_SECRET   its client secret (the kickstart's, on this machine only)
//	APP_SECRET_KEY  32 characters or more that seal the cookies (random at
//	                each start if unset, on this machine only)
//	APP_SECRET_KEY_PREVIOUS  the key before the last change, which still
//	                opens cookies
//	SESSION_IDLE_TIMEOUT  how long an unused session lasts (15m)
//	SESSION_MAX_LIFETIME  how long any session lasts after login (8h)
//
// Plain http to another host would send tokens and the client secret
// unencrypted, so it is refused; so are the kickstart's public client secret
// and a random APP_SECRET_KEY anywhere but on the developer's own machine.
func loadConfig(getenv func(string) string) (config, error) {
	var cfg config
	port := getenv("PORT")
	if n, err := strconv.Atoi(port); port != "" && (err != nil || n < 0 || n > 65535) {
		return config{}, fmt.Errorf("PORT: must be a port number from 0 to 65535, got %q", port)
	}
	var err error
	cfg.appURL, err = parseBaseURL("APP_URL", envOr(getenv, "APP_URL", "http://localhost:"+envOr(getenv, "PORT", defaultPort)))
	if err != nil {
		return config{}, err
	}
	// The routes live at the root of the URL space, so APP_URL cannot carry a path.
	if cfg.appURL.Path != "" && cfg.appURL.Path != "/" {
		return config{}, fmt.Errorf("APP_URL: must not have a path (the app serves /callback at its root), got %q", cfg.appURL)
	}
	cfg.appURL.Path = ""
	if port == "" {
		port = cfg.appURL.Port()
	}
	if port == "" && cfg.appURL.Scheme == "https" {
		port = "443"
	} else if port == "" {
		port = "80"
	}
	// An empty host listens on every interface, so the app is reachable from
	// a container or a VM; APP_URL says how browsers reach it.
	cfg.listenAddr = net.JoinHostPort("", port)

	// The issuer is compared byte for byte with the one in FusionAuth's
	// discovery document and tokens, so it is kept exactly as given.
	cfg.issuer = envOr(getenv, "ISSUER", kickstartIssuer)
	issuerURL, err := parseBaseURL("ISSUER", cfg.issuer)
	if err != nil {
		return config{}, err
	}
	for i, u := range []*url.URL{cfg.appURL, issuerURL} {
		if u.Scheme == "http" && !isLoopback(u.Hostname()) {
			return config{}, fmt.Errorf("%s: plain http to %s would send tokens unencrypted; use https", []string{"APP_URL", "ISSUER"}[i], u.Host)
		}
	}

	cfg.clientID = envOr(getenv, "CLIENT_ID", kickstartClientID)
	cfg.clientSecret = envOr(getenv, "CLIENT_SECRET", kickstartClientSecret)
	local := isLoopback(cfg.appURL.Hostname())
	if !local && cfg.clientSecret == kickstartClientSecret {
		return config{}, fmt.Errorf("CLIENT_SECRET: the kickstart's development secret is public; set the application's own secret when APP_URL (%s) is not this machine", cfg.appURL)
	}

	for _, name := range []string{"APP_SECRET_KEY", "APP_SECRET_KEY_PREVIOUS"} {
		key := getenv(name)
		switch {
		case key == "" && name == "APP_SECRET_KEY" && !local:
			return config{}, fmt.Errorf("APP_SECRET_KEY: must be set when APP_URL (%s) is not this machine, so that restarts and replicas keep sessions (try `openssl rand -base64 32`)", cfg.appURL)
		case key == "" && name == "APP_SECRET_KEY":
			key = rand.Text() + rand.Text()
			cfg.warnings = append(cfg.warnings, "APP_SECRET_KEY is not set, so a random key seals the cookies: "+
				"every restart logs everyone out, and replicas cannot share users. Set APP_SECRET_KEY to keep sessions.")
		case key == "":
			continue
		case len(key) < 32:
			return config{}, fmt.Errorf("%s: must be at least 32 characters (try `openssl rand -base64 32`), got %d", name, len(key))
		}
		cfg.secretKeys = append(cfg.secretKeys, []byte(key))
	}

	// The session limits a bank would pick (OWASP's session guidance).
	if cfg.sessionIdleTimeout, err = parseDuration(getenv, "SESSION_IDLE_TIMEOUT", 15*time.Minute); err != nil {
		return config{}, err
	}
	if cfg.sessionMaxLifetime, err = parseDuration(getenv, "SESSION_MAX_LIFETIME", 8*time.Hour); err != nil {
		return config{}, err
	}
	if cfg.sessionIdleTimeout > cfg.sessionMaxLifetime {
		return config{}, fmt.Errorf("SESSION_IDLE_TIMEOUT: must not be longer than SESSION_MAX_LIFETIME (%s), got %s", cfg.sessionMaxLifetime, cfg.sessionIdleTimeout)
	}
	return cfg, nil
}

// parseBaseURL accepts an absolute http or https URL with no query or
// fragment, such as http://localhost:5000.
func parseBaseURL(name, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s: must be an absolute http or https URL without query or fragment, such as http://localhost:5000, got %q", name, raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%s: port must be from 1 to 65535, got %q", name, raw)
		}
	}
	return u, nil
}

// parseDuration reads a positive Go duration such as 15m or 8h.
func parseDuration(getenv func(string) string, name string, fallback time.Duration) (time.Duration, error) {
	raw := getenv(name)
	if raw == "" {
		return fallback, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: must be a positive duration such as 15m or 8h, got %q", name, raw)
	}
	return d, nil
}

func envOr(getenv func(string) string, name, fallback string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return fallback
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

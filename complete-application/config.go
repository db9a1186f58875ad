package main

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const defaultAppURL = "http://localhost:5000"

// The development values from kickstart/kickstart.json. They are defaults so
// that `go run` works against the local FusionAuth that docker compose starts;
// anywhere else, set the environment variables instead.
const (
	kickstartIssuer       = "http://localhost:9011"
	kickstartClientID     = "e9fdb985-9173-4e01-9d73-ac2d60d1dc8e"
	kickstartClientSecret = "super-secret-secret-that-should-be-regenerated-for-production"
)

// The session limits a bank would pick (OWASP's session guidance): an idle
// session ends after 15 minutes, and any session after a working day.
const (
	defaultSessionIdleTimeout = 15 * time.Minute
	defaultSessionMaxLifetime = 8 * time.Hour
)

// minSecretKeyLength is the shortest APP_SECRET_KEY accepted. The key seals
// every cookie, so it must be long enough that nobody can guess it.
const minSecretKeyLength = 32

// config is everything the application reads from its environment, checked.
type config struct {
	// appURL is the public base URL of the application, as a browser sees it.
	appURL *url.URL
	// listenAddr is the address the server listens on.
	listenAddr string

	// issuer is FusionAuth's issuer URL: discovery happens at
	// issuer + "/.well-known/openid-configuration".
	issuer       string
	clientID     string
	clientSecret string
	// secretKey seals the cookies. Replicas that share it can serve the same users.
	secretKey []byte

	// sessionIdleTimeout ends a session nobody used for that long, and
	// sessionMaxLifetime any session that long after its login.
	sessionIdleTimeout time.Duration
	sessionMaxLifetime time.Duration

	// warnings are printed once the logger exists.
	warnings []string
}

// loadConfig reads the configuration from getenv (os.Getenv outside tests) and
// refuses values that cannot work, naming the variable to fix:
//
//	APP_URL         the app's public base URL (http://localhost:5000); the
//	                callback is APP_URL/callback, the logout URL APP_URL/logout
//	PORT            the port to listen on (APP_URL's port)
//	ISSUER          FusionAuth's issuer (http://localhost:9011)
//	CLIENT_ID       the application's client id (the kickstart's)
//	CLIENT_SECRET   the application's client secret (the kickstart's, only
//	                while APP_URL is on this machine)
//	APP_SECRET_KEY  at least 32 characters that seal the cookies (random
//	                at each start when unset, with a warning; required
//	                unless APP_URL is on this machine)
//	SESSION_IDLE_TIMEOUT  how long an unused session lasts (15m), a Go duration
//	SESSION_MAX_LIFETIME  how long any session lasts after login (8h)
//	ALLOW_PLAIN_HTTP      "true" accepts an http APP_URL or ISSUER on another
//	                      host, for development on a private network only
//
// Plain http to another host would send the tokens and the client secret
// unencrypted over the network, so it is refused unless ALLOW_PLAIN_HTTP says
// otherwise; so are the kickstart's public client secret and a random
// APP_SECRET_KEY anywhere but on the developer's own machine.
func loadConfig(getenv func(string) string) (config, error) {
	var cfg config

	appURL, err := parseBaseURL("APP_URL", envOr(getenv, "APP_URL", defaultAppURL))
	if err != nil {
		return config{}, err
	}
	// The routes live at the root of the URL space, so APP_URL cannot carry a path.
	if appURL.Path != "" && appURL.Path != "/" {
		return config{}, fmt.Errorf("APP_URL: must not have a path (the app serves /callback at its root), got %q", appURL)
	}
	appURL.Path = ""
	cfg.appURL = appURL

	port := getenv("PORT")
	if port == "" {
		port = appURL.Port()
		if port == "" && appURL.Scheme == "https" {
			port = "443"
		} else if port == "" {
			port = "80"
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return config{}, fmt.Errorf("PORT: must be a port number from 0 to 65535, got %q", port)
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

	cfg.clientID = envOr(getenv, "CLIENT_ID", kickstartClientID)
	cfg.clientSecret = envOr(getenv, "CLIENT_SECRET", kickstartClientSecret)
	if strings.TrimSpace(cfg.clientID) == "" {
		return config{}, fmt.Errorf("CLIENT_ID: must not be blank")
	}
	if strings.TrimSpace(cfg.clientSecret) == "" {
		return config{}, fmt.Errorf("CLIENT_SECRET: must not be blank")
	}

	if key := getenv("APP_SECRET_KEY"); key != "" {
		if len(key) < minSecretKeyLength {
			return config{}, fmt.Errorf("APP_SECRET_KEY: must be at least %d characters (try `openssl rand -base64 32`), got %d", minSecretKeyLength, len(key))
		}
		cfg.secretKey = []byte(key)
	} else {
		cfg.secretKey = []byte(rand.Text() + rand.Text())
		cfg.warnings = append(cfg.warnings, "APP_SECRET_KEY is not set, so a random key seals the cookies: "+
			"every restart logs everyone out, and replicas cannot share users. Set APP_SECRET_KEY to keep sessions.")
	}

	local := isLoopback(appURL.Hostname())
	if !local && cfg.clientSecret == kickstartClientSecret {
		return config{}, fmt.Errorf("CLIENT_SECRET: the kickstart's development secret is public; set the application's own secret when APP_URL (%s) is not this machine", appURL)
	}
	if !local && getenv("APP_SECRET_KEY") == "" {
		return config{}, fmt.Errorf("APP_SECRET_KEY: must be set when APP_URL (%s) is not this machine, so that restarts and replicas keep sessions (try `openssl rand -base64 32`)", appURL)
	}

	allowPlainHTTP := getenv("ALLOW_PLAIN_HTTP") == "true"
	for _, u := range []struct {
		name string
		url  *url.URL
	}{{"APP_URL", appURL}, {"ISSUER", issuerURL}} {
		if u.url.Scheme != "http" || isLoopback(u.url.Hostname()) {
			continue
		}
		if !allowPlainHTTP {
			return config{}, fmt.Errorf("%s: plain http to %s would send tokens unencrypted; use https (or, for development on a private network only, set ALLOW_PLAIN_HTTP=true)", u.name, u.url.Host)
		}
		cfg.warnings = append(cfg.warnings, fmt.Sprintf("ALLOW_PLAIN_HTTP=true: %s %s is plain http to another host, "+
			"so tokens and cookies cross the network unencrypted. NEVER use this outside a private development network.", u.name, u.url))
	}

	cfg.sessionIdleTimeout, err = parseDuration(getenv, "SESSION_IDLE_TIMEOUT", defaultSessionIdleTimeout)
	if err != nil {
		return config{}, err
	}
	cfg.sessionMaxLifetime, err = parseDuration(getenv, "SESSION_MAX_LIFETIME", defaultSessionMaxLifetime)
	if err != nil {
		return config{}, err
	}
	if cfg.sessionIdleTimeout > cfg.sessionMaxLifetime {
		return config{}, fmt.Errorf("SESSION_IDLE_TIMEOUT: must not be longer than SESSION_MAX_LIFETIME (%s), got %s", cfg.sessionMaxLifetime, cfg.sessionIdleTimeout)
	}
	return cfg, nil
}

// issuerOrigin is the scheme and host of FusionAuth, the only site allowed to
// receive the logout form's redirect and to frame the front-channel logout page.
func (c config) issuerOrigin() string {
	u, err := url.Parse(c.issuer)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
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
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

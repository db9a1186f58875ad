package main

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
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
//	CLIENT_SECRET   the application's client secret (the kickstart's)
//	APP_SECRET_KEY  at least 32 characters that seal the cookies (random
//	                at each start when unset, with a warning)
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
	if _, err := parseBaseURL("ISSUER", cfg.issuer); err != nil {
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

	if appURL.Scheme == "http" && !isLoopback(appURL.Hostname()) {
		cfg.warnings = append(cfg.warnings, "APP_URL is plain http on a non-local host: cookies cannot be marked Secure. Use https outside development.")
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

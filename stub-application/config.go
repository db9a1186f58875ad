package main

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
)

const defaultPort = "5000"

// config is everything the application reads from its environment, checked.
type config struct {
	appURL     *url.URL // the public base URL, as a browser sees it
	listenAddr string
}

// loadConfig reads the configuration from getenv (os.Getenv outside tests) and
// refuses values that cannot work, naming the variable to fix:
//
//	PORT            the port to listen on (APP_URL's port, else 5000)
//	APP_URL         the app's public base URL (http://localhost:PORT)
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

func envOr(getenv func(string) string, name, fallback string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return fallback
}

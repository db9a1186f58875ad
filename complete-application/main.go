// Command complete-application is Changebank, a small web bank whose users log
// in with FusionAuth through OpenID Connect. It is the finished version of the
// quickstart: compare it with ../stub-application to see every step.
//
// Start FusionAuth from the repository root with `docker compose up -d --wait`, then run
//
//	go run ./complete-application
//
// and open http://localhost:5000. The defaults match kickstart/kickstart.json;
// config.go lists the environment variables that change them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx := context.Background()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "changebank: %s\n", err)
		os.Exit(1)
	}
}

// run is the whole program. It takes what the operating system would give it
// as arguments, so tests can start the real server with their own environment
// and stop it by cancelling ctx.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger := slog.New(slog.NewTextHandler(stderr, nil))

	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	for _, warning := range cfg.warnings {
		logger.Warn(warning)
	}

	pages, err := parsePages(logger)
	if err != nil {
		return err
	}

	// The login's seam (login.go): what it needs from Changebank.
	auth, err := newLogin(loginConfig{
		Issuer:       cfg.issuer,
		ClientID:     cfg.clientID,
		ClientSecret: cfg.clientSecret,
		AppURL:       cfg.appURL,
		SecretKeys:   cfg.secretKeys,
		IdleTimeout:  cfg.sessionIdleTimeout,
		MaxLifetime:  cfg.sessionMaxLifetime,
		AfterLogin:   "/account",
		AfterLogout:  "/",
		ShowError:    pages.renderError,
		Logger:       logger,
		Now:          time.Now,
	})
	if err != nil {
		return err
	}

	srv := &http.Server{
		Handler: newHandler(logger, pages, auth, cfg.appURL.Scheme == "https"),
		// Slow or stalled clients must not hold connections forever. The
		// write timeout leaves room for the callback, which may wait for
		// discovery, the token endpoint and the key set in turn, each
		// bounded by upstreamTimeout.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// The app's own cookies stay under 20 KB; a larger header only costs
		// parsing time, so it gets a 431 answer instead.
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	// Listening before serving turns a port clash into an immediate error
	// instead of a log line from a goroutine.
	listener, err := net.Listen("tcp", cfg.listenAddr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w (another program uses the port: stop it, or set PORT to a free port)", cfg.listenAddr, err)
	}
	logger.Info("changebank is listening", "url", cfg.appURL.String(), "addr", listener.Addr().String(), "issuer", cfg.issuer)
	fmt.Fprintf(stdout, "Changebank is running at %s\n", cfg.appURL)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(listener) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("serving http: %w", err)
	case <-ctx.Done():
	}

	// ctx is already cancelled here, so shutdown gets a fresh deadline: an
	// expired context would close connections without letting requests finish.
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving http: %w", err)
	}
	return nil
}

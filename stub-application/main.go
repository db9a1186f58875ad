// Command stub-application is Changebank before it knows FusionAuth: a small
// web bank with a home page, a make-change page open to anyone, and a Login
// button that leads nowhere yet. The quickstart turns it, step by step, into
// ../complete-application.
//
// Run it from the repository root with
//
//	go run ./stub-application
//
// and open http://localhost:5000. config.go lists the environment variables.
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

	pages, err := parsePages(logger)
	if err != nil {
		return err
	}

	srv := &http.Server{
		Handler: newHandler(logger, pages, cfg),
		// Slow or stalled clients must not hold connections forever.
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
	logger.Info("changebank is listening", "url", cfg.appURL.String(), "addr", listener.Addr().String())
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

// Command fake-fusionauth serves the project's FusionAuth stand-in (a test double,
// not FusionAuth), configured by the kickstart file, for tests and for trying the
// applications on a machine that cannot run FusionAuth's image:
//
//	go run ./e2e/cmd/fake-fusionauth
//
// It reads the kickstart from FUSIONAUTH_APP_KICKSTART_FILE (default
// kickstart/kickstart.json, relative to the working directory), listens on :9011
// (change it with -addr), logs "KickstartRunner - Summary" once it is ready, and
// stops on SIGINT or SIGTERM (Ctrl-C; `kill %1` when started with & in this shell). See e2e/fusionauthtest for what it covers and what
// only a real FusionAuth proves.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"changebank/e2e/fusionauthtest"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fake-fusionauth:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	flags := flag.NewFlagSet("fake-fusionauth", flag.ContinueOnError)
	flags.SetOutput(stderr)
	addr := flags.String("addr", ":9011", "address to listen on")
	if err := flags.Parse(args); err != nil {
		return err
	}

	// Its log imitates FusionAuth's, so that the same readiness checks serve
	// both; this first line makes sure nobody mistakes it for FusionAuth.
	fmt.Fprintln(stdout, "fake-fusionauth: a FusionAuth stand-in for development and tests, not FusionAuth (see e2e/fusionauthtest/README.md)")

	kickstart := getenv("FUSIONAUTH_APP_KICKSTART_FILE")
	if kickstart == "" {
		kickstart = "kickstart/kickstart.json"
	}
	server, err := fusionauthtest.Start(*addr, fusionauthtest.Options{
		KickstartPath: kickstart,
		Getenv:        getenv,
		Log:           stdout,
	})
	if errors.Is(err, syscall.EADDRINUSE) {
		_, port, _ := net.SplitHostPort(*addr)
		return fmt.Errorf("port %s is busy: another program listens there, such as the FusionAuth of `docker compose up` "+
			"(stop it with `docker compose down`) or a stand-in started earlier (stop it with Ctrl-C in its terminal); "+
			"`ss -ltnp 'sport = :%s'` on Linux or `lsof -nP -iTCP:%s -sTCP:LISTEN` on macOS names it: %w", port, port, port, err)
	}
	if err != nil {
		return fmt.Errorf("%w (FUSIONAUTH_APP_KICKSTART_FILE names the kickstart file)", err)
	}
	defer server.Close()

	<-ctx.Done()
	fmt.Fprintln(stdout, "shutting down")
	return nil
}

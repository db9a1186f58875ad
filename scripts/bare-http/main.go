// Command bare-http is the baseline of scripts/load.sh: a plain net/http
// server that answers every request with a fixed HTML page of a given size,
// doing nothing else, so that the app's numbers can be read against what Go's
// HTTP server alone costs on the same machine:
//
//	go run ./scripts/bare-http -addr 127.0.0.1:5080 -size 1200
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bare-http:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	flags := flag.NewFlagSet("bare-http", flag.ContinueOnError)
	addr := flags.String("addr", "127.0.0.1:5080", "address to listen on")
	size := flags.Int("size", 1200, "size in bytes of the HTML page it serves")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *size < 0 || *size > 1<<20 {
		return fmt.Errorf("-size must be between 0 and 1048576, got %d", *size)
	}

	// A page of the requested size: an HTML shell padded with text.
	page := []byte("<!doctype html><html><head><title>Bare</title></head><body><p>")
	tail := []byte("</p></body></html>\n")
	page = append(page, bytes.Repeat([]byte("x"), max(0, *size-len(page)-len(tail)))...)
	page = append(page, tail...)

	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(page)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-stop
		_ = srv.Close()
	}()
	if err := srv.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

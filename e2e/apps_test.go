package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// buildApps compiles both applications into dir, in one go build. The suite runs the binaries,
// as a reader would: a test package cannot import a package main.
func buildApps(ctx context.Context, root, dir string) error {
	build := goCommand(ctx, root, "build", "-o", dir+string(filepath.Separator), "./stub-application", "./complete-application")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./stub-application ./complete-application: %w\n%s", err, out)
	}
	return nil
}

func goCommand(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	return cmd
}

// app is one running application binary.
type app struct {
	name string
	url  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // the process's exit error, set before done closes
}

// startApp runs the binary with env added to the suite's environment, copies its output,
// prefixed with its name, to out, and returns once it answers HTTP at url.
func startApp(binary, url string, env []string, out io.Writer) (*app, error) {
	a := &app{name: filepath.Base(binary), url: url, done: make(chan struct{})}
	a.cmd = exec.Command(binary)
	a.cmd.Env = append(os.Environ(), env...)
	w := prefixLines(out, a.name+" | ")
	a.cmd.Stdout, a.cmd.Stderr = w, w
	if err := a.cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("start %s: %w", a.name, err)
	}
	go func() {
		a.err = a.cmd.Wait()
		w.Close()
		close(a.done)
	}()
	if err := a.waitUntilServing(30 * time.Second); err != nil {
		a.stop()
		return nil, err
	}
	return a, nil
}

// waitUntilServing polls the home page until the application answers or exits.
func (a *app) waitUntilServing(limit time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(limit)
	for {
		resp, err := client.Get(a.url + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-a.done:
			return fmt.Errorf("%s exited before serving %s: %v (its output is above)", a.name, a.url, a.err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer at %s within %s: %w", a.name, a.url, limit, err)
		}
	}
}

// stop asks the application to shut down gracefully (SIGTERM), as a reader's Ctrl-C or a
// container runtime would, and kills it if it has not exited after ten seconds.
func (a *app) stop() {
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		warnOnError(err, "signal "+a.name)
	}
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		fmt.Fprintf(os.Stderr, "e2e: %s ignored SIGTERM for 10s; killing it\n", a.name)
		a.cmd.Process.Kill()
		<-a.done
	}
}

// freePort returns a port of 127.0.0.1 that was free a moment ago, for a program that listens
// on it itself. The listener lives under syscall.ForkLock, which every fork of this process
// takes for writing: no child can copy the socket and keep the port busy after the close.
func freePort() (string, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}

// randomSecret returns a fresh APP_SECRET_KEY for one run of the suite.
func randomSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails: crypto/rand.Read panics rather than return an error
	return hex.EncodeToString(b)
}

// prefixLines returns a writer that copies whole lines to w, each prefixed, so the output of
// several programs stays readable when interleaved. Close it when the program has exited.
func prefixLines(w io.Writer, prefix string) io.WriteCloser {
	pr, pw := io.Pipe()
	go func() {
		s := bufio.NewScanner(pr)
		s.Buffer(make([]byte, 64*1024), 1024*1024)
		for s.Scan() {
			fmt.Fprintf(w, "%s%s\n", prefix, s.Text())
		}
		io.Copy(io.Discard, pr) // after an overlong line, keep draining so the program never blocks
	}()
	return pw
}

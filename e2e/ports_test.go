package e2e

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"changebank/e2e/fusionauthtest"
)

// holdInChild starts a process that holds a copy of ln's socket until the test ends, as a child
// forked while ln is open does until it execs (the suite runs go build meanwhile). Here the
// copy is handed over on purpose, so that the moment is certain rather than a matter of luck.
func holdInChild(t *testing.T, ln net.Listener) {
	t.Helper()
	f, err := ln.(*net.TCPListener).File()
	require.NoError(t, err)
	defer f.Close()
	child := exec.Command("sleep", "600")
	child.ExtraFiles = []*os.File{f}
	require.NoError(t, child.Start(), "start a child that holds the socket")
	// Handing the copy over made the socket blocking (os.File.Fd does), and the flag belongs to
	// the socket, not the copy: set it back, as a fork leaves it, or Close waits for an Accept
	// that blocks in the kernel.
	raw, err := ln.(*net.TCPListener).SyscallConn()
	require.NoError(t, err)
	var nonblockErr error
	require.NoError(t, raw.Control(func(fd uintptr) { nonblockErr = syscall.SetNonblock(int(fd), true) }))
	require.NoError(t, nonblockErr)
	t.Cleanup(func() {
		child.Process.Kill()
		child.Wait()
	})
}

// TestStandinKeepsItsPortWhileAChildHoldsTheSocket: the in-process stand-in serves on the
// socket its port was claimed with, so a child process holding a copy of that socket does not
// take the port away. The first case is the control: listening, closing and letting the
// stand-in listen again fails in the same situation with "address already in use", which shows
// that the child really holds the port.
func TestStandinKeepsItsPortWhileAChildHoldsTheSocket(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T, fa *fusionAuth) error
		serve bool // the stand-in should serve, rather than fail to listen
	}{
		{
			name: "listen, close, listen again (the control)",
			start: func(t *testing.T, fa *fusionAuth) error {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
				holdInChild(t, ln)
				addr := ln.Addr().String()
				require.NoError(t, ln.Close())
				srv, err := fusionauthtest.Start(addr, fusionauthtest.Options{Log: fa.log})
				if err == nil {
					fa.stops = append(fa.stops, srv.Close)
				}
				return err
			},
		},
		{
			name: "claim the port and serve on that socket",
			start: func(t *testing.T, fa *fusionAuth) error {
				ln, err := claimPort("0", standinPortUse)
				require.NoError(t, err)
				holdInChild(t, ln)
				fa.url = "http://" + ln.Addr().String()
				return serveStandin(suite.cfg, fa, ln)
			},
			serve: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fa := &fusionAuth{log: &lineLog{}}
			t.Cleanup(fa.stop)
			err := tt.start(t, fa)
			if !tt.serve {
				require.Error(t, err, "the child holds the socket, so listening again must fail")
				assert.ErrorIs(t, err, syscall.EADDRINUSE)
				return
			}
			require.NoError(t, err)
			resp, err := http.Get(fa.url + "/api/status")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode, "/api/status")
			assert.Equal(t, fusionauthtest.StandinHeaderValue, resp.Header.Get(standinHeader), "the stand-in answered")
		})
	}
}

// TestPortChecksTellBusyFromFree: the connecting check and the claim both report a port another
// program holds, with advice, and let a free one pass.
func TestPortChecksTellBusyFromFree(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { busy.Close() })
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	free, err := freePort()
	require.NoError(t, err)

	checks := map[string]func(port string) error{
		"requireNoListener": func(port string) error { return requireNoListener(port, standinPortUse) },
		"claimPort": func(port string) error {
			ln, err := claimPort(port, standinPortUse)
			if err == nil {
				ln.Close()
			}
			return err
		},
	}
	for name, check := range checks {
		t.Run(name+" on a busy port", func(t *testing.T) {
			err := check(busyPort)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "port "+busyPort+" is busy, but the FusionAuth stand-in")
			assert.Contains(t, err.Error(), "stop what listens there")
		})
		t.Run(name+" on a free port", func(t *testing.T) {
			assert.NoError(t, check(free))
		})
	}
}

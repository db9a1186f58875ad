// Replicas of the program behind a load balancer: every instance runs as
// main runs it, all share one public APP_URL, and the test chooses which
// replica serves the next request and sees which served each one.

package main

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/require"
)

// balancer is a load balancer in front of replicas of the application: all
// share one public APP_URL, and the test chooses which replica serves the
// next request.
type balancer struct {
	url      string
	replicas []*httputil.ReverseProxy

	mu   sync.Mutex
	next int
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	i := b.next
	b.mu.Unlock()
	b.replicas[i].ServeHTTP(w, r)
}

// use sends the following requests to replica i.
func (b *balancer) use(i int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next = i
}

// startReplicas runs one instance of the program per environment, each on
// its own port and with env added to what every replica gets, behind a
// balancer whose URL is every instance's APP_URL.
func startReplicas(t *testing.T, idp *fusionauthtest.Server, envs ...map[string]string) *balancer {
	t.Helper()
	front := httptest.NewUnstartedServer(nil)
	b := &balancer{url: "http://" + front.Listener.Addr().String()}
	for _, env := range envs {
		addr := freeAddr(t)
		_, port, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		full := map[string]string{"APP_URL": b.url, "PORT": port, "ISSUER": idp.URL()}
		maps.Copy(full, env)
		startRunAt(t, addr, full)
		target, err := url.Parse("http://" + addr)
		require.NoError(t, err)
		// The proxy keeps the browser's Host header, as a load balancer
		// does, so same-origin checks see the public URL.
		b.replicas = append(b.replicas, httputil.NewSingleHostReverseProxy(target))
	}
	front.Config.Handler = b
	front.Start()
	t.Cleanup(front.Close)
	registerRedirectURLs(t, idp, b.url)
	return b
}

// servedLog lists which replica served which request, as "0 GET /login".
type servedLog struct {
	mu     sync.Mutex
	served []string
}

// recordServed makes every replica of lb note the requests it answers.
func recordServed(lb *balancer) *servedLog {
	log := &servedLog{}
	for i, replica := range lb.replicas {
		replica.ModifyResponse = func(resp *http.Response) error {
			log.mu.Lock()
			defer log.mu.Unlock()
			log.served = append(log.served, fmt.Sprintf("%d %s %s", i, resp.Request.Method, resp.Request.URL.Path))
			return nil
		}
	}
	return log
}

func (l *servedLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.served...)
}

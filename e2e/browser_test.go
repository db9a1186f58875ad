package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// stepTimeout bounds one user step. A real FusionAuth renders its first login page slowly while
// the JVM warms up, so it is generous; it only matters when something is broken.
const stepTimeout = 30 * time.Second

// startChrome starts the one Chrome of this test binary and returns a context that holds it.
// Each test opens its own browser context in it (see newBrowser).
func startChrome(cfg config) (context.Context, context.CancelFunc, error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		// The machines this suite runs on may have no route to the internet: keep Chrome from
		// reaching out on its own. (The defaults already turn off background networking, sync
		// and the first-run page.)
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 900),
	)
	if cfg.chromePath != "" {
		opts = append(opts, chromedp.ExecPath(cfg.chromePath))
	}
	// chromedp's own switch for watching a run: it applies only to allocators chromedp builds
	// itself, so it is passed on here.
	if os.Getenv("CHROMEDP_VISIBLEWINDOW") != "" {
		opts = append(opts, chromedp.VisibleWindow)
	}
	// Chrome's sandbox refuses to run as root, and on CI machines (disposable, and visiting
	// only this suite's local pages) user namespaces are often unavailable.
	if os.Geteuid() == 0 || os.Getenv("CI") == "true" {
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	cancel := func() {
		cancelBrowser()
		cancelAlloc()
	}
	// The first run starts Chrome and binds its life to this context, so it has no timeout.
	if err := chromedp.Do(browserCtx); err != nil {
		cancel()
		where := "chromedp's usual places (google-chrome, chromium, …)"
		if cfg.chromePath != "" {
			where = "CHROME_PATH=" + cfg.chromePath
		}
		return nil, nil, fmt.Errorf("start Chrome from %s: %w\n"+
			"Install Chrome or Chromium (Debian: apt-get install chromium) or set CHROME_PATH. "+
			"To run nothing instead, and say so, set E2E_ALLOW_NO_BROWSER=1", where, err)
	}
	return browserCtx, cancel, nil
}

// browser is one test's window: a fresh browser context, like an incognito window, so no
// cookie of one test reaches another.
type browser struct {
	t   *testing.T
	ctx context.Context
}

// newBrowser opens a new browser context for t, closed when t ends. If t fails, a screenshot and
// the page's HTML are saved under e2e/artifacts first.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(suite.browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel) // registered first, so it runs after the artifacts are saved
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a browser window: %v", err)
	}
	b := &browser{t: t, ctx: ctx}
	t.Cleanup(b.saveArtifactsIfFailed)
	return b
}

// do runs one user step. A failure names the step and stops the test.
func (b *browser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("step %q failed: %v", step, err)
	}
}

// read runs one action that returns a value, such as the text of an element.
func read[T any](b *browser, what string, action chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		b.t.Fatalf("read %s: %v", what, err)
	}
	return v
}

// submit clicks a button that sends a form and waits until the page that answers has loaded,
// after every redirect. Without the wait, the next step could still see the old page.
func (b *browser) submit(step string, button chromedp.CSS) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(button, chromedp.NodeVisible))); err != nil {
		b.t.Fatalf("step %q failed: %v", step, err)
	}
}

// waitUntil polls cond until it holds, through page loads (which make some reads fail for a
// moment), and fails the test with the last state seen when the step times out.
func (b *browser) waitUntil(step string, cond func(ctx context.Context) (ok bool, state string, err error)) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	var last string
	for {
		ok, state, err := cond(ctx)
		if err == nil && ok {
			return
		}
		last = state
		if err != nil {
			last = fmt.Sprintf("%s (%v)", state, err)
		}
		select {
		case <-ctx.Done():
			b.t.Fatalf("step %q failed: not done after %s; last seen: %s", step, stepTimeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// location is the address of the page the browser shows.
func (b *browser) location() string {
	b.t.Helper()
	return read(b, "the page's address", chromedp.Location())
}

// waitForPage waits until the browser shows the page at url (query and fragment ignored).
func (b *browser) waitForPage(step, url string) {
	b.t.Helper()
	b.waitUntil(step, func(ctx context.Context) (bool, string, error) {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		return withoutQuery(loc) == url, "the browser is at " + loc, err
	})
}

// pageText is the text a reader sees on the page.
func (b *browser) pageText() string {
	b.t.Helper()
	return read(b, "the page's text", chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
}

// cookies returns the cookies the browser would send to url, as DevTools sees them: with the
// HttpOnly and SameSite attributes that page scripts cannot read.
func (b *browser) cookies(url string) []*network.Cookie {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		b.t.Fatalf("read the browser's cookies for %s: %v", url, err)
	}
	return res.Cookies
}

// saveArtifactsIfFailed saves a screenshot and the HTML of the page a failed test ended on.
func (b *browser) saveArtifactsIfFailed() {
	if !b.t.Failed() {
		return
	}
	// The test's own contexts may have run out; the tab lives until the next cleanup.
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	dir, err := filepath.Abs("artifacts")
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		b.t.Logf("cannot save the failure's screenshot: %v", err)
		return
	}
	base := filepath.Join(dir, regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(b.t.Name(), "_"))
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	png, shotErr := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	html, htmlErr := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err := errors.Join(shotErr, htmlErr); err != nil {
		b.t.Logf("cannot capture the page at %s: %v", loc, err)
	}
	var saved []string
	for _, f := range []struct {
		path string
		data []byte
	}{{base + ".png", png}, {base + ".html", []byte(html)}} {
		if len(f.data) == 0 {
			continue
		}
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			b.t.Logf("cannot save %s: %v", f.path, err)
			continue
		}
		saved = append(saved, f.path)
	}
	b.t.Logf("the browser was at %s; saved:\n\t%s", loc, strings.Join(saved, "\n\t"))
}

// withoutQuery strips the query and fragment from an address.
func withoutQuery(u string) string {
	u, _, _ = strings.Cut(u, "#")
	u, _, _ = strings.Cut(u, "?")
	return u
}

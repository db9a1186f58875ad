package e2e

import (
	"testing"

	"changebank/e2e/fusionauthtest"

	"github.com/chromedp/chromedp"
)

// TestLogoutStartedByAnotherApplicationEndsSession: another application (here FusionAuth's own
// admin application) starts a logout. FusionAuth's "Logging out" page loads Changebank's logout
// URL in a hidden iframe (front-channel logout), and the session ends. It works here because
// FusionAuth and the application share a site (both on localhost), so the iframe carries the
// application's SameSite=Lax cookies; across sites it cannot (see login_cookies.go), and the
// session then ends at its own limits.
func TestLogoutStartedByAnotherApplicationEndsSession(t *testing.T) {
	t.Parallel() // its own browser window; it changes nothing FusionAuth or the apps share
	b := newBrowser(t)
	b.logIn(richard)

	// Navigate returns once the page has loaded, and a page's load waits for its iframes.
	b.do("log out at FusionAuth, as another application would",
		chromedp.Navigate(suite.fusionAuth.url+"/oauth2/logout?client_id="+fusionauthtest.FusionAuthApplicationID))
	b.openExpectingHome("/account")
}

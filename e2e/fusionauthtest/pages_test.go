package fusionauthtest_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inlineCode finds what a strict Content-Security-Policy blocks in a page: a
// style or script element, a style attribute, or an event handler attribute.
var inlineCode = regexp.MustCompile(`(?i)<style\b|<script\b|\sstyle=|\son[a-z]+=`)

// TestStandinPagesAreMarkedAndStyledWithoutInlineCode: every page the stand-in
// shows a browser says it is the stand-in, loads the stand-in's own stylesheet
// and holds nothing a strict Content-Security-Policy would block, and the
// stand-in sends such a policy with it.
func TestStandinPagesAreMarkedAndStyledWithoutInlineCode(t *testing.T) {
	tg := stub(t)
	c := newClient(t, testContext(t), tg)
	pages := []struct {
		name string
		open func(t *testing.T) page
		want string // on this page and no other
	}{
		{"login", func(t *testing.T) page {
			return newBrowser(t).authorize(t, tg, c.authorizeURL(newLoginRequest()))
		}, `id="loginId"`},
		{"login after a wrong password", func(t *testing.T) page {
			return newBrowser(t).login(t, tg, c.authorizeURL(newLoginRequest()), tg.User, "not-the-password")
		}, "Invalid login credentials."},
		{"registration required", func(t *testing.T) page {
			return newBrowser(t).login(t, tg, c.authorizeURL(newLoginRequest()), tg.Unregistered, tg.Password)
		}, "Registration Required"},
		{"OAuth error", func(t *testing.T) page {
			return newBrowser(t).get(t, tg.URL+"/oauth2/authorize?client_id=00000000-0000-4000-8000-000000000000&response_type=code")
		}, "We're sorry"},
		{"logging out", func(t *testing.T) page {
			b := newBrowser(t)
			logIn(t, c, b)
			return b.get(t, tg.URL+"/oauth2/logout?"+url.Values{"client_id": {tg.ClientID}}.Encode())
		}, `http-equiv="Refresh"`},
	}
	for _, tt := range pages {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.open(t)
			require.Empty(t, p.Location, "the %s page is a page, not a redirect", tt.name)
			require.Contains(t, p.Body, tt.want, "the %s page", tt.name)
			assert.Contains(t, p.Body, `id="standin-banner"`, "the page says it is the stand-in")
			assert.Contains(t, p.Body, "a test double, not FusionAuth")
			assert.Contains(t, p.Body, `<link rel="stylesheet" href="/standin/standin.css">`)
			assert.Empty(t, inlineCode.FindAllString(p.Body, -1), "inline style or script in the page:\n%s", p.Body)
			csp := p.Header.Get("Content-Security-Policy")
			assert.Contains(t, csp, "style-src 'self'", "Content-Security-Policy")
			assert.Contains(t, csp, "script-src 'none'", "Content-Security-Policy")
		})
	}

	css := newBrowser(t).get(t, tg.URL+"/standin/standin.css")
	assert.Equal(t, http.StatusOK, css.Status, "the stylesheet")
	assert.Equal(t, "text/css; charset=utf-8", css.Header.Get("Content-Type"), "the stylesheet's Content-Type")
	assert.Contains(t, css.Body, ".standin-banner", "the stylesheet styles the banner")
}

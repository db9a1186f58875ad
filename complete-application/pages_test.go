// The pages: every route for a visitor and for a logged-in user (status,
// redirect, content, the security headers), and static files served from
// the static folder only.

package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"changebank/e2e/fusionauthtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRoutesLoggedOut checks every route for a visitor without a session.
func TestRoutesLoggedOut(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)

	tests := []struct {
		method, path string
		wantStatus   int
		wantLocation string // for redirects: the target, or its prefix when it ends in "?"
		wantText     string // in the body
	}{
		{"GET", "/", http.StatusOK, "", `id="login"`},
		{"GET", "/login", http.StatusSeeOther, idp.URL() + "/oauth2/authorize?", ""},
		{"GET", "/callback", http.StatusBadRequest, "", `id="error"`},
		{"GET", "/account", http.StatusSeeOther, "/", ""},
		{"GET", "/make-change", http.StatusSeeOther, "/", ""},
		{"POST", "/make-change", http.StatusSeeOther, "/", ""},
		// Logout ends FusionAuth's session even when this browser has no
		// session of Changebank's left: FusionAuth's may still be alive.
		{"POST", "/logout", http.StatusSeeOther, idp.URL() + "/oauth2/logout?", ""},
		{"GET", "/logout", http.StatusBadRequest, "", `id="error"`}, // not a logout this app started
		{"GET", "/static/changebank.css", http.StatusOK, "", ".button"},
		{"GET", "/static/changebank.svg", http.StatusOK, "", "<svg"},
		{"GET", "/static/", http.StatusNotFound, "", `id="error"`},
		{"GET", "/static/missing.css", http.StatusNotFound, "", ""},
		// The mux does not clean escaped dot-dots; the templates stay unserved.
		{"GET", "/static/%2e%2e/templates/layout.html", http.StatusNotFound, "", `id="error"`},
		{"GET", "/static/..%2ftemplates/layout.html", http.StatusNotFound, "", `id="error"`},
		{"GET", "/static/%2e%2e%2ftemplates%2fpages%2fhome.html", http.StatusNotFound, "", `id="error"`},
		{"GET", "/static/%2e%2e/main.go", http.StatusNotFound, "", `id="error"`},
		{"GET", "/no-such-page", http.StatusNotFound, "", `id="error"`},
		{"PUT", "/account", http.StatusNotFound, "", `id="error"`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			var resp response
			if tt.method == "POST" {
				resp = app.post(tt.path, url.Values{"amount": {"1"}})
			} else {
				req, err := http.NewRequest(tt.method, app.url+tt.path, nil)
				require.NoError(t, err)
				resp = app.do(req)
			}
			assert.Equal(t, tt.wantStatus, resp.StatusCode, resp.body)
			switch location := resp.Header.Get("Location"); {
			case strings.HasSuffix(tt.wantLocation, "?"):
				assert.True(t, strings.HasPrefix(location, tt.wantLocation),
					"Location %q, want prefix %q", location, tt.wantLocation)
			case tt.wantLocation != "":
				assert.Equal(t, tt.wantLocation, location)
			}
			assert.Contains(t, resp.body, tt.wantText)
			assert.NotContains(t, resp.body, "{{", "no template source is served")
			assertSecurityHeaders(t, resp.Response)
		})
	}
}

// TestRoutesLoggedIn checks every route for a logged-in user.
func TestRoutesLoggedIn(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	home := app.get("/")
	assert.Equal(t, http.StatusSeeOther, home.StatusCode)
	assert.Equal(t, "/account", home.Header.Get("Location"))

	// Each page shows what only a logged-in user sees there.
	for path, want := range map[string]string{"/account": testUserEmail, "/make-change": `id="make-change-form"`} {
		resp := app.get(path)
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.Contains(t, resp.body, want, path)
		assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"), path)
		assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"), path)
		assertSecurityHeaders(t, resp.Response)
	}
	form := app.get("/make-change")
	for _, id := range []string{"make-change-form", "amount", "make-change-submit"} {
		assert.Contains(t, form.body, `id="`+id+`"`)
	}
}

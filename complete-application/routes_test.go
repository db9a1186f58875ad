package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

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
		{"GET", "/logout", http.StatusSeeOther, "/", ""},
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
			assertSecurityHeaders(t, resp.Response)
		})
	}
}

// assertSecurityHeaders checks the headers every response must carry.
func assertSecurityHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	csp := resp.Header.Get("Content-Security-Policy")
	assert.NotEmpty(t, csp, "Content-Security-Policy")
	assert.NotContains(t, csp, "unsafe-inline")
	assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
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
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), path)
		assert.Contains(t, resp.body, want, path)
		assertSecurityHeaders(t, resp.Response)
	}
	form := app.get("/make-change")
	for _, id := range []string{"make-change-form", "amount", "make-change-submit"} {
		assert.Contains(t, form.body, `id="`+id+`"`)
	}
}

// TestMakeChange checks the answers, and the messages for bad amounts.
func TestMakeChange(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	tests := []struct {
		amount     string
		wantStatus int
		wantResult string
		wantError  string
	}{
		{"0.29", http.StatusOK, "We can make change for $0.29 with 5 nickels and 4 pennies!", ""},
		{"0.58", http.StatusOK, "We can make change for $0.58 with 11 nickels and 3 pennies!", ""},
		{"1.02", http.StatusOK, "We can make change for $1.02 with 20 nickels and 2 pennies!", ""},
		{"0.15", http.StatusOK, "We can make change for $0.15 with 3 nickels and 0 pennies!", ""},
		{"$3", http.StatusOK, "We can make change for $3.00 with 60 nickels and 0 pennies!", ""},
		{"-1", http.StatusBadRequest, "", "negative"},
		{"abc", http.StatusBadRequest, "", "digits"},
		{"NaN", http.StatusBadRequest, "", "digits"},
		{"Inf", http.StatusBadRequest, "", "digits"},
		{"1e3", http.StatusBadRequest, "", "digits"},
		{"0.001", http.StatusBadRequest, "", "two digits"},
		{"99999999999", http.StatusBadRequest, "", "too large"},
		{strings.Repeat("9", 500), http.StatusBadRequest, "", "too large"},
		{"", http.StatusBadRequest, "", "enter an amount"},
		{"<b>1</b>", http.StatusBadRequest, "", "digits"},
	}
	for _, tt := range tests {
		t.Run(tt.amount, func(t *testing.T) {
			resp := app.post("/make-change", url.Values{"amount": {tt.amount}})
			assert.Equal(t, tt.wantStatus, resp.StatusCode, "amount %q", tt.amount)
			assert.Equal(t, tt.wantResult, elementText(resp.body, "change-result"), "amount %q", tt.amount)
			assert.Contains(t, strings.ToLower(elementText(resp.body, "change-error")), tt.wantError, "amount %q", tt.amount)
			assert.NotContains(t, resp.body, "<b>1</b>", "the amount is echoed escaped")
		})
	}

	t.Run("malformed form", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, app.url+"/make-change", strings.NewReader("amount=%zz"))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp := app.do(req)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.NotEmpty(t, elementText(resp.body, "error"))
	})
	t.Run("oversized form", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, app.url+"/make-change", strings.NewReader("amount="+strings.Repeat("1", 1<<20)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		assert.Equal(t, http.StatusBadRequest, app.do(req).StatusCode)
	})
}

// TestCrossOriginPostsAreRefused: another site cannot post the app's forms.
func TestCrossOriginPostsAreRefused(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	for _, path := range []string{"/logout", "/make-change"} {
		req, err := http.NewRequest(http.MethodPost, app.url+path, strings.NewReader("amount=1"))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example.com")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp := app.do(req)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, path)
		assert.NotEmpty(t, elementText(resp.body, "error"), path)
	}
	assert.Equal(t, http.StatusOK, app.get("/account").StatusCode, "still logged in")
}

// TestBadSessionCookiesMeanLoggedOut: whatever is wrong with a session
// cookie, the answer is "logged out", never an error page or a panic.
func TestBadSessionCookiesMeanLoggedOut(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	otherKey, err := newCookieSealer([]byte("another-secret-key-of-32-characters-or-more"), false)
	require.NoError(t, err)

	tests := []struct {
		name   string
		tamper func(app *testApp)
	}{
		{"flipped character in the access token", func(app *testApp) {
			v := []byte(app.cookie("cb_access_token"))
			v[len(v)/2] ^= 1
			app.setCookie("cb_access_token", string(v))
		}},
		{"truncated user", func(app *testApp) {
			v := app.cookie("cb_user")
			app.setCookie("cb_user", v[:len(v)/2])
		}},
		{"user sealed with another key", func(app *testApp) {
			app.setCookie("cb_user", otherKey.seal(userCookie, []byte(`{"sub":"x","email":"mallory@example.com"}`)))
		}},
		{"user cookie moved from the login cookie", func(app *testApp) {
			app.setCookie("cb_user", app.auth.cookies.seal(loginCookie, []byte(`{"sub":"x","email":"mallory@example.com"}`)))
		}},
		{"another user's subject", func(app *testApp) {
			now := idp.Now()
			admin, err := json.Marshal(sessionState{User: user{Subject: "00000000-0000-0000-0000-000000000001", Email: "admin@example.com"}, StartedAt: now, SeenAt: now})
			require.NoError(t, err)
			app.setCookie("cb_user", app.auth.cookies.seal(userCookie, admin))
		}},
		{"a session without its start and last use", func(app *testApp) {
			app.setCookie("cb_user", app.auth.cookies.seal(userCookie, []byte(`{"user":{"sub":"00000000-0000-0000-0000-111111111111","email":"richard@example.com"}}`)))
		}},
		{"garbage", func(app *testApp) {
			app.setCookie("cb_user", "%%%not-base64%%%")
			app.setCookie("cb_access_token", "")
		}},
		{"unsealed token in the access token cookie", func(app *testApp) {
			app.setCookie("cb_access_token", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
			app.setCookie("cb_refresh_token", "")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := newTestApp(t, idp)
			require.NoError(t, app.logInAs(testUserEmail, testUserPassword))
			tt.tamper(app)
			resp := app.get("/account")
			assert.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.body)
			assert.Equal(t, "/", resp.Header.Get("Location"))
			assert.Equal(t, http.StatusOK, app.get("/").StatusCode, "the home page still works")
		})
	}
}

// TestProtectedPagesWhileFusionAuthIsDown: with a session but no reachable
// FusionAuth to fetch keys from, protected pages answer 503, public ones work.
func TestProtectedPagesWhileFusionAuthIsDown(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	first := newTestApp(t, idp)
	require.NoError(t, first.logInAs(testUserEmail, testUserPassword))

	srv, _ := newAppWithIssuer(t, "http://"+freeAddr(t))
	down := &testApp{t: t, url: srv.URL, idp: idp, client: newBrowserClient(t)}
	u, _ := url.Parse(first.url)
	v, _ := url.Parse(down.url)
	down.client.Jar.SetCookies(v, first.client.Jar.Cookies(u))

	assert.Equal(t, http.StatusServiceUnavailable, down.get("/account").StatusCode)
	assert.Equal(t, http.StatusOK, down.get("/").StatusCode)
	assert.NotEmpty(t, down.cookie("cb_access_token"), "the session survives an outage")
}

// TestCallbackRefusesExpiredLogin: a login left for more than ten minutes
// at FusionAuth is refused before any token request.
func TestCallbackRefusesExpiredLogin(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	callback, err := app.loginCallback(testUserEmail, testUserPassword)
	require.NoError(t, err)
	idp.Advance(loginLifetime + time.Second)
	idp.ResetRequests()
	resp := app.get(callback)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Zero(t, requestsTo(idp, "/oauth2/token"))
	assertLoggedOut(t, app)
}

// TestFrontChannelLogout: FusionAuth may load GET /logout in a hidden
// iframe, more than once; it clears the cookies and only FusionAuth may frame it.
func TestFrontChannelLogout(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	app := newTestApp(t, idp)
	require.NoError(t, app.logInAs(testUserEmail, testUserPassword))

	for range 2 {
		resp := app.get("/logout")
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
		assert.Equal(t, "/", resp.Header.Get("Location"))
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors "+idp.URL())
		assert.Empty(t, resp.Header.Get("X-Frame-Options"))
	}
	assertLoggedOut(t, app)
	assert.Contains(t, app.get("/").Header.Get("Content-Security-Policy"), "frame-ancestors 'none'",
		"other pages cannot be framed")
}

// TestSecureCookiesWhenAppURLIsHTTPS: behind https, every cookie is Secure
// and carries the __Host- prefix.
func TestSecureCookiesWhenAppURLIsHTTPS(t *testing.T) {
	idp := fusionauthtest.NewServer(t, fusionauthtest.Options{})
	const appURL = "https://changebank.example"
	// Anywhere but on this machine, the kickstart's public client secret
	// is refused: give the application a secret of its own.
	const clientSecret = "a-client-secret-only-this-test-knows"
	callAdminAPI(t, idp, http.MethodPatch, "/api/application/"+testClientID, map[string]any{"application": map[string]any{
		"oauthConfiguration": map[string]any{"clientSecret": clientSecret},
	}})
	env := map[string]string{"APP_URL": appURL, "PORT": "8443", "ISSUER": idp.URL(), "APP_SECRET_KEY": testSecretKey, "CLIENT_SECRET": clientSecret}
	cfg, err := loadConfig(func(name string) string { return env[name] })
	require.NoError(t, err)
	logger := newDiscardLogger()
	pages, err := parsePages(logger)
	require.NoError(t, err)
	auth, err := newAuthenticator(cfg, logger)
	require.NoError(t, err)
	auth.now = idp.Now
	handler := newHandler(logger, pages, auth, cfg)
	registerRedirectURLs(t, idp, appURL)

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, appURL+"/login", nil))
	require.Equal(t, http.StatusSeeOther, rec.Code)
	loginCookies := rec.Result().Cookies()
	require.Len(t, loginCookies, 1)
	assert.Equal(t, "__Host-cb_login", loginCookies[0].Name)
	assert.True(t, loginCookies[0].Secure)

	// FusionAuth sends the browser to the https callback; deliver it by hand.
	stepper := &testApp{t: t, url: appURL, idp: idp, auth: auth, client: newBrowserClient(t)}
	authorize, err := url.Parse(rec.Header().Get("Location"))
	require.NoError(t, err)
	callback, err := stepper.signIn(authorize, testUserEmail, testUserPassword)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, callback, nil)
	req.AddCookie(loginCookies[0])
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())

	names := map[string]bool{}
	for _, c := range rec.Result().Cookies() {
		names[c.Name] = true
		assert.True(t, strings.HasPrefix(c.Name, "__Host-cb_"), "cookie %s has the __Host- prefix", c.Name)
		assert.True(t, c.Secure, "cookie %s is Secure", c.Name)
		assert.True(t, c.HttpOnly, "cookie %s is HttpOnly", c.Name)
		assert.Equal(t, "/", c.Path)
		assert.Empty(t, c.Domain, "__Host- cookies have no Domain")
	}
	for _, name := range []string{"__Host-cb_access_token", "__Host-cb_refresh_token", "__Host-cb_id_token", "__Host-cb_user"} {
		assert.True(t, names[name], "callback sets %s", name)
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// The files named login*.go are the login: FusionAuth as an OpenID Connect
// provider (login_client.go), login and callback (login_callback.go), the
// token checks (login_verify.go), the session in sealed cookies
// (login_session.go, login_cookies.go), refresh (login_refresh.go) and logout
// (login_logout.go), and the errors and messages a user can meet
// (login_errors.go). They name nothing else of the application. This file is
// their seam: the application fills in a loginConfig, mounts what newLogin
// returns, and reads the user with currentUser. To add the login to another
// app, copy the login*.go files unchanged and write only that. Their
// package-level names (login, session, provider, cookieSealer, handleLogin,
// ...) join the app's package: on a clash, rename the app's.

// loginConfig is everything the login needs from the application.
type loginConfig struct {
	Issuer       string   // FusionAuth's issuer, exactly as its tokens name it
	ClientID     string   // the application's client id in FusionAuth
	ClientSecret string   // and its secret
	AppURL       *url.URL // the app's public base URL; FusionAuth knows AppURL/callback and AppURL/logout
	// SecretKeys seal the cookies: the first seals and opens, the others
	// only open, so the key can change without logging anyone out.
	SecretKeys  [][]byte
	IdleTimeout time.Duration // a session unused this long ends
	MaxLifetime time.Duration // any session ends this long after its login

	AfterLogin string // the local path a login lands on, such as /account
	// AfterLogout is the local path a logout, and a visitor requireLogin
	// turns away, lands on, such as /: a page open to logged-out visitors.
	AfterLogout string
	// ShowError answers a request with a page that shows message. The
	// messages are the ones below; none holds a token or a raw error.
	ShowError func(w http.ResponseWriter, r *http.Request, status int, message string)
	Logger    *slog.Logger
	Now       func() time.Time // the one clock of the login: time.Now outside tests
}

// login is what the application mounts.
type login struct {
	start        http.Handler // GET /login
	callback     http.Handler // GET /callback
	logout       http.Handler // POST /logout, from the app's own pages only (cross-origin posts are refused)
	logoutReturn http.Handler // GET /logout: FusionAuth's front-channel logout and its return

	// requireLogin serves next to logged-in users only, who find themselves
	// with currentUser; everyone else goes to AfterLogout.
	requireLogin func(next http.Handler) http.Handler
	// redirectIfLoggedIn sends logged-in users to AfterLogin and serves next
	// to everyone else: for the home page.
	redirectIfLoggedIn func(next http.Handler) http.Handler

	// issuerOrigin must be in the app's Content-Security-Policy form-action:
	// browsers check the logout form's redirect to FusionAuth against it, and
	// without it they silently stop there, leaving FusionAuth's session alive.
	issuerOrigin string

	client   *oidcClient // for the application's tests
	sessions *sessionKeeper
}

// loginUser is the logged-in user, as a page sees it.
type loginUser struct {
	Subject string // FusionAuth's user id
	Email   string
}

type userContextKey struct{}

// currentUser returns the user requireLogin let through.
func currentUser(ctx context.Context) loginUser {
	user, _ := ctx.Value(userContextKey{}).(loginUser)
	return user
}

// newLogin checks cfg and builds the login. It does not call FusionAuth:
// discovery happens on first use, so the app starts while FusionAuth does.
func newLogin(cfg loginConfig) (*login, error) {
	if cfg.AppURL == nil || len(cfg.SecretKeys) == 0 || cfg.ShowError == nil || cfg.Logger == nil || cfg.Now == nil ||
		cfg.IdleTimeout <= 0 || cfg.MaxLifetime <= 0 {
		return nil, errors.New("login: AppURL, SecretKeys, ShowError, Logger, Now and positive session limits are required")
	}
	for _, key := range cfg.SecretKeys {
		if len(key) < 32 {
			return nil, errors.New("login: each secret key must be at least 32 bytes (try `openssl rand -base64 32`)")
		}
	}
	issuer, err := url.Parse(cfg.Issuer)
	if err != nil || issuer.Host == "" {
		return nil, fmt.Errorf("login: Issuer must be an absolute URL, got %q", cfg.Issuer)
	}
	cookies, err := newCookieSealer(cfg.SecretKeys, cfg.AppURL.Scheme == "https")
	if err != nil {
		return nil, err
	}
	client := newOIDCClient(cfg)
	sessions := &sessionKeeper{
		cookies: cookies, client: client, logger: cfg.Logger, now: cfg.Now,
		idleTimeout: cfg.IdleTimeout, maxLifetime: cfg.MaxLifetime,
		refreshes: newRefreshFlights(),
	}
	show, logger := cfg.ShowError, cfg.Logger
	issuerOrigin := issuer.Scheme + "://" + issuer.Host
	return &login{
		start:        noStore(handleLogin(client, cookies, show, logger)),
		callback:     noStore(handleCallback(client, sessions, show, logger, cfg.AfterLogin)),
		logout:       noStore(sameOrigin(show, handleLogout(client, sessions, show, logger))),
		logoutReturn: noStore(handleLogoutReturn(client, sessions, show, logger, issuerOrigin, cfg.AfterLogout)),
		requireLogin: func(next http.Handler) http.Handler {
			return noStore(requireSession(sessions, show, logger, cfg.AfterLogout, next))
		},
		redirectIfLoggedIn: func(next http.Handler) http.Handler {
			return noStore(redirectSession(sessions, cfg.AfterLogin, next))
		},
		issuerOrigin: issuerOrigin,
		client:       client,
		sessions:     sessions,
	}, nil
}

// noStore keeps every response of the login out of every cache, including
// the browser's history: each depends on the session, and many set its
// cookies, which a shared cache would hand to the next visitor.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// sameOrigin refuses posts from other sites: a page elsewhere must not log
// users out. Go's CrossOriginProtection checks the browser's Sec-Fetch-Site
// and Origin headers, so no CSRF token is needed.
func sameOrigin(show loginErrorFunc, next http.Handler) http.Handler {
	protection := http.NewCrossOriginProtection()
	protection.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		show(w, r, http.StatusForbidden, msgCrossOrigin)
	}))
	return protection.Handler(next)
}

// requireSession loads the session (login_session.go) and serves next with its
// user, or answers for the session.
func requireSession(sessions *sessionKeeper, show loginErrorFunc, logger *slog.Logger, loggedOut string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := sessions.load(w, r)
		switch {
		case err == nil:
			user := loginUser{Subject: s.Subject, Email: s.Email}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userContextKey{}, user)))
		case errors.Is(err, errLoggedOut):
			http.Redirect(w, r, loggedOut, http.StatusSeeOther)
		case errors.Is(err, errProviderUnavailable):
			logger.Warn("cannot check the session", "err", err)
			show(w, r, http.StatusServiceUnavailable, msgCannotReach)
		default:
			logger.Warn("cannot renew the session", "err", err)
			show(w, r, http.StatusBadGateway, msgNotRenewed)
		}
	})
}

// redirectSession sends logged-in users to target and serves next to
// everyone else, including when their login cannot be checked right now.
func redirectSession(sessions *sessionKeeper, target string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := sessions.load(w, r); err == nil {
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loginErrorFunc is how the application answers with a message (ShowError).
type loginErrorFunc = func(w http.ResponseWriter, r *http.Request, status int, message string)

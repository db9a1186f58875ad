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
// (login_logout.go). They name nothing else of the application. This file is
// their seam: the application fills in a loginConfig, mounts what newLogin
// returns, and reads the user with currentUser. To add the login to another
// app, copy the login*.go files unchanged and write only that.

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

	AfterLogin  string // the local path a login lands on, such as /account
	AfterLogout string // the local path a logout lands on, such as /
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
	logout       http.Handler // POST /logout, from the app's own form only
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
	if cfg.AppURL == nil || len(cfg.SecretKeys) == 0 || cfg.ShowError == nil || cfg.Logger == nil || cfg.Now == nil {
		return nil, errors.New("login: AppURL, SecretKeys, ShowError, Logger and Now are required")
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
		logout:       noStore(handleLogout(client, sessions, show, logger)),
		logoutReturn: noStore(handleLogoutReturn(client, sessions, show, logger, issuerOrigin, cfg.AfterLogout)),
		requireLogin: func(next http.Handler) http.Handler {
			return noStore(requireLogin(sessions, show, logger, cfg.AfterLogout, next))
		},
		redirectIfLoggedIn: func(next http.Handler) http.Handler {
			return noStore(redirectIfLoggedIn(sessions, cfg.AfterLogin, next))
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

// requireLogin loads the session (login_session.go) and serves next with its
// user, or answers for the session.
func requireLogin(sessions *sessionKeeper, show showError, logger *slog.Logger, loggedOut string, next http.Handler) http.Handler {
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

// redirectIfLoggedIn sends logged-in users to target and serves next to
// everyone else, including when their login cannot be checked right now.
func redirectIfLoggedIn(sessions *sessionKeeper, target string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := sessions.load(w, r); err == nil {
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// showError is how the application answers with a message.
type showError = func(w http.ResponseWriter, r *http.Request, status int, message string)

// The errors a page can meet, in one place. Only errLoggedOut ends the
// session (its cookies are deleted); the others mean "cannot check now", and
// the next request tries again.
var (
	errLoggedOut           = errors.New("not logged in")
	errProviderUnavailable = errors.New("FusionAuth is not available") // answered 503
	// A key set that cannot be fetched means "cannot check", never "invalid".
	errKeysUnavailable = fmt.Errorf("%w: its signing keys cannot be fetched", errProviderUnavailable)
	errRefreshFailed   = errors.New("FusionAuth answered a refresh with neither tokens nor a refusal") // answered 502
)

// The messages the login shows through ShowError.
const (
	msgCannotReachAtLogin = "FusionAuth cannot be reached yet. If you have just started it, wait a moment and try again."
	msgCannotReach        = "FusionAuth cannot be reached right now, so your login cannot be checked. Please try again shortly."
	msgNotRenewed         = "FusionAuth did not renew your login. Please try again shortly."
	msgLoginNotStarted    = "The login could not start. Please try again."
	msgLoginUnknown       = "This login has expired, was already used, or is not the one you started. Please log in again."
	msgLoginWrongIssuer   = "This login response came from an unexpected identity provider. Please log in again."
	msgLoginRefusedPrefix = "FusionAuth did not log you in: "
	msgLoginNoCode        = "This login response has no authorization code. Please log in again."
	msgLoginNotCompleted  = "FusionAuth did not complete the login. Please log in again."
	msgLoginFailedCheck   = "FusionAuth's answer failed a security check, so you are not logged in. Please try again."
	msgLoginNotStored     = "Your login could not be stored. Please try again."
	msgLogoutLocalOnly    = "You are logged out of this app, but FusionAuth could not be reached, so anyone using this browser " +
		"might log in again without a password, and a copy of your session may keep working until it expires. Close the browser to be sure."
	msgLogoutNotRevoked = "You are logged out, but FusionAuth could not be asked to revoke your session, so a copy of it " +
		"taken from this browser could keep working until it expires (at most the session's lifetime). If this was a shared " +
		"or untrusted computer, ask an administrator to end your sessions in FusionAuth, or change your password."
	msgLogoutNotStarted = "This logout was not started here, so nothing was changed. To log out, use the Log out button."
)

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

// The files named login*.go are the login: discovery of FusionAuth
// (login_discovery.go), the login and its callback (login_callback.go), the
// checks of FusionAuth's tokens (login_verify.go), the session that lives in
// sealed cookies (login_session.go, login_cookies.go), its refresh
// (login_refresh.go) and logout (login_logout.go). They name nothing else of
// the application. This file is their seam: the application fills in a
// loginConfig, mounts the handlers newLogin returns at /login, /callback and
// /logout, wraps its own pages in requireLogin, and reads the user with
// currentUser. To add the login to another app, copy the login*.go files
// unchanged and write only that.

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

	// issuerOrigin is FusionAuth's origin. The app's Content-Security-Policy
	// must name it in form-action: the logout form's answer redirects there,
	// and browsers check form-action against redirects too. Without it, the
	// browser stops on the app's page and FusionAuth's session lives on.
	issuerOrigin string

	client   *oidcClient    // the parts, for the application's tests
	sessions *sessionKeeper //
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
	switch {
	case cfg.AppURL == nil || cfg.Issuer == "" || cfg.ClientID == "":
		return nil, errors.New("login: AppURL, Issuer and ClientID are required")
	case len(cfg.SecretKeys) == 0:
		return nil, errors.New("login: at least one secret key is required to seal the cookies")
	case !isLocalPath(cfg.AfterLogin) || !isLocalPath(cfg.AfterLogout):
		return nil, fmt.Errorf("login: AfterLogin and AfterLogout must be local paths, got %q and %q", cfg.AfterLogin, cfg.AfterLogout)
	case cfg.IdleTimeout <= 0 || cfg.MaxLifetime <= 0 || cfg.ShowError == nil || cfg.Logger == nil || cfg.Now == nil:
		return nil, errors.New("login: IdleTimeout, MaxLifetime, ShowError, Logger and Now are required")
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
// the browser's back-forward history: each one depends on the session, and
// many set its cookies, which a shared cache would hand to the next visitor.
// It is the one place that says so.
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
		default:
			logger.Warn("cannot check the session", "err", err)
			status, message := pageAnswer(err)
			show(w, r, status, message)
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

// The errors a page can meet, and what each means to the user, in one place.
// Only errLoggedOut deletes the session's cookies: the others mean "cannot
// check now", and the next request tries again.
var (
	// errLoggedOut: no session, or one that ended (its cookies are deleted).
	errLoggedOut = errors.New("not logged in")
	// errProviderUnavailable: FusionAuth could not be reached or did not
	// answer as expected. Pages that need it answer 503 until it does.
	errProviderUnavailable = errors.New("FusionAuth is not available")
	// errKeysUnavailable: a token could not be checked because FusionAuth's
	// keys could not be fetched; "cannot check now", never "invalid".
	errKeysUnavailable = fmt.Errorf("%w: its signing keys cannot be fetched", errProviderUnavailable)
	// errRefreshFailed: FusionAuth answered a refresh with neither tokens nor
	// a refusal.
	errRefreshFailed = errors.New("FusionAuth did not renew the session")
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

// pageAnswer is the status and message for an error that stopped a page.
func pageAnswer(err error) (int, string) {
	if errors.Is(err, errProviderUnavailable) {
		return http.StatusServiceUnavailable, msgCannotReach
	}
	return http.StatusBadGateway, msgNotRenewed
}

// isLocalPath reports whether p is a path on this site: it starts with one
// slash, so a browser cannot read it as another host ("//evil.example").
func isLocalPath(p string) bool {
	return len(p) > 0 && p[0] == '/' && (len(p) == 1 || (p[1] != '/' && p[1] != '\\'))
}

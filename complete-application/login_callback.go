package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const (
	loginLifetime = 10 * time.Minute // to finish logging in at FusionAuth
	// maxPendingLogins is how many unfinished logins one browser may have
	// (one per tab, say), so that a login in one tab does not break another's,
	// and the cookie that holds them stays far below a browser's limit.
	maxPendingLogins = 5
)

// loginTransaction is what one login remembers between /login and /callback,
// in the sealed oidc_login cookie: no state on the server, so any replica can
// finish a login another one started.
type loginTransaction struct {
	State     string    `json:"state"`    // ties the callback to this browser's login (CSRF)
	Nonce     string    `json:"nonce"`    // ties the ID token to this login (replay)
	Verifier  string    `json:"verifier"` // the PKCE secret: the code is useless without it
	ExpiresAt time.Time `json:"expires_at"`
}

// handleLogin starts a login: it remembers a fresh state, nonce and PKCE
// verifier in a sealed cookie and sends the browser to FusionAuth.
func handleLogin(client *oidcClient, cookies *cookieSealer, show loginErrorFunc, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := client.provider(r.Context())
		if err != nil {
			show(w, r, http.StatusServiceUnavailable, msgCannotReachAtLogin)
			return
		}
		tx := loginTransaction{
			State:     rand.Text(), // 26 base32 characters: 130 random bits.
			Nonce:     rand.Text(),
			Verifier:  oauth2.GenerateVerifier(),
			ExpiresAt: client.now().Add(loginLifetime),
		}
		// Keep the logins other tabs started, newest last.
		pending := append(pendingLogins(r, cookies, client.now()), tx)
		if len(pending) > maxPendingLogins {
			pending = pending[len(pending)-maxPendingLogins:]
		}
		c, err := cookies.seal(loginCookie, "", pending, loginLifetime)
		if err != nil {
			logger.Error("sealing the login cookie", "err", err)
			show(w, r, http.StatusInternalServerError, msgLoginNotStarted)
			return
		}
		http.SetCookie(w, c)
		http.Redirect(w, r, p.oauth2.AuthCodeURL(tx.State, oidc.Nonce(tx.Nonce), oauth2.S256ChallengeOption(tx.Verifier)), http.StatusSeeOther)
	})
}

// handleCallback finishes a login. FusionAuth redirects the browser here with
// an authorization code; the app checks the answer belongs to the login this
// browser started, exchanges the code for tokens, checks them and starts the
// session.
func handleCallback(client *oidcClient, sessions *sessionKeeper, show loginErrorFunc, logger *slog.Logger, afterLogin string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail := func(status int, message string, err error) {
			logger.Warn("refusing a login", "status", status, "err", err)
			show(w, r, status, message)
		}
		query := r.URL.Query()
		tx, found := takePendingLogin(w, r, sessions.cookies, client.now(), query.Get("state"))

		p, err := client.provider(r.Context())
		switch {
		case err != nil:
			fail(http.StatusServiceUnavailable, msgCannotReach, err)
			return
		case !found:
			fail(http.StatusBadRequest, msgLoginUnknown, errors.New("no login of this browser has this state"))
			return
		case query.Has("iss") && query.Get("iss") != client.issuer, !query.Has("iss") && p.namesItselfInCallbacks:
			// RFC 9207: the answer names who sent it, against mix-up attacks.
			// When FusionAuth says it always does, a code without iss may be
			// another provider's, and must not reach FusionAuth.
			fail(http.StatusBadRequest, msgLoginWrongIssuer, fmt.Errorf("iss %q", query.Get("iss")))
			return
		case query.Has("error"):
			// ShowError's page escapes these, so markup in them stays text.
			fail(http.StatusBadRequest, msgLoginRefusedPrefix+query.Get("error")+" "+query.Get("error_description"), errors.New(query.Get("error")))
			return
		case query.Get("code") == "":
			fail(http.StatusBadRequest, msgLoginNoCode, nil)
			return
		}

		ctx := client.upstream(r.Context())
		token, err := p.oauth2.Exchange(ctx, query.Get("code"), oauth2.VerifierOption(tx.Verifier))
		if err != nil {
			fail(http.StatusBadGateway, msgLoginNotCompleted, err)
			return
		}
		tokens, err := client.verifyLogin(ctx, p, token, tx.Nonce)
		switch {
		case errors.Is(err, errProviderUnavailable):
			fail(http.StatusServiceUnavailable, msgCannotReach, err)
			return
		case err != nil:
			fail(http.StatusBadGateway, msgLoginFailedCheck, err)
			return
		}
		now := client.now()
		record := session{ID: rand.Text(), Nonce: tx.Nonce, StartedAt: now, SeenAt: now}
		if _, err := sessions.save(w, record, tokens); err != nil {
			fail(http.StatusBadGateway, msgLoginNotStored, err)
			return
		}
		logger.Info("user logged in", "sub", tokens.subject)
		http.Redirect(w, r, afterLogin, http.StatusSeeOther)
	})
}

// takePendingLogin finds the login whose state the callback carries, and
// removes it from the browser's pending logins: a login is single use, so a
// replayed callback finds nothing to complete. Other tabs' logins stay,
// unless the callback matches none: then it is unsolicited or stale, and
// every pending login goes.
func takePendingLogin(w http.ResponseWriter, r *http.Request, cookies *cookieSealer, now time.Time, state string) (loginTransaction, bool) {
	pending := pendingLogins(r, cookies, now)
	i := slices.IndexFunc(pending, func(tx loginTransaction) bool { return equalSecret(state, tx.State) })
	if i < 0 {
		http.SetCookie(w, cookies.expire(loginCookie))
		return loginTransaction{}, false
	}
	tx := pending[i]
	pending = slices.Delete(pending, i, i+1)
	c, err := cookies.seal(loginCookie, "", pending, loginLifetime)
	if len(pending) == 0 || err != nil {
		c = cookies.expire(loginCookie)
	}
	http.SetCookie(w, c)
	return tx, true
}

// pendingLogins returns the logins this browser started that have not
// expired at now. An unreadable cookie holds none.
func pendingLogins(r *http.Request, cookies *cookieSealer, now time.Time) []loginTransaction {
	var pending []loginTransaction
	if err := cookies.open(r, loginCookie, "", &pending); err != nil {
		return nil
	}
	return slices.DeleteFunc(pending, func(tx loginTransaction) bool { return now.After(tx.ExpiresAt) })
}

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
	// (one per tab, say), so that a login in one tab does not break another's.
	maxPendingLogins = 5
)

// loginTransaction is what one login remembers between /login and /callback,
// in the sealed cb_login cookie: no state on the server, so any replica can
// finish a login another one started.
type loginTransaction struct {
	State     string    `json:"state"`    // ties the callback to this browser's login (CSRF)
	Nonce     string    `json:"nonce"`    // ties the ID token to this login (replay)
	Verifier  string    `json:"verifier"` // the PKCE secret: the code is useless without it
	ExpiresAt time.Time `json:"expires_at"`
}

// handleLogin starts a login: it remembers a fresh state, nonce and PKCE
// verifier in a sealed cookie and sends the browser to FusionAuth.
func handleLogin(client *oidcClient, cookies *cookieSealer, pages *pages, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := client.provider(r.Context())
		if err != nil {
			pages.renderError(w, r, http.StatusServiceUnavailable,
				"Changebank cannot reach FusionAuth yet. If you have just started it, wait a moment and try again.")
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
		if err := cookies.setJSON(w, loginCookie, pending, loginLifetime); err != nil {
			logger.Error("setting the login cookie", "err", err)
			pages.renderError(w, r, http.StatusInternalServerError, "Changebank could not start the login. Please try again.")
			return
		}
		http.Redirect(w, r, p.oauth2.AuthCodeURL(tx.State, oidc.Nonce(tx.Nonce), oauth2.S256ChallengeOption(tx.Verifier)), http.StatusSeeOther)
	})
}

// handleCallback finishes a login. FusionAuth redirects the browser here with
// an authorization code; the app checks the answer belongs to the login this
// browser started, exchanges the code for tokens, checks them and starts the
// session.
func handleCallback(client *oidcClient, sessions *sessions, pages *pages, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail := func(status int, message string, err error) {
			logger.Warn("refusing a login", "status", status, "err", err)
			pages.renderError(w, r, status, message)
		}
		// The transaction is single use: it goes whatever happens next, so a
		// replayed callback finds nothing to complete. Other tabs' logins
		// stay, unless the callback matches none: then it is unsolicited or
		// stale, and every pending login goes.
		query := r.URL.Query()
		pending := pendingLogins(r, sessions.cookies, client.now())
		i := slices.IndexFunc(pending, func(tx loginTransaction) bool { return equalSecret(query.Get("state"), tx.State) })
		var tx loginTransaction
		if i >= 0 {
			tx = pending[i]
			pending = slices.Delete(pending, i, i+1)
		}
		if i < 0 || len(pending) == 0 || sessions.cookies.setJSON(w, loginCookie, pending, loginLifetime) != nil {
			sessions.cookies.clear(w, loginCookie)
		}

		p, err := client.provider(r.Context())
		switch {
		case err != nil:
			fail(http.StatusServiceUnavailable, "Changebank cannot reach FusionAuth right now. Please try again shortly.", err)
			return
		case i < 0:
			fail(http.StatusBadRequest, "This login has expired, was already used, or is not the one you started. Please log in again.", errors.New("no login of this browser has this state"))
			return
		case query.Has("iss") && query.Get("iss") != client.issuer, !query.Has("iss") && p.namesItselfInCallbacks:
			// RFC 9207: the answer names who sent it, against mix-up attacks.
			// When FusionAuth says it always does, a code without iss may be
			// another provider's, and must not reach FusionAuth.
			fail(http.StatusBadRequest, "This login response came from an unexpected identity provider. Please log in again.", fmt.Errorf("iss %q", query.Get("iss")))
			return
		case query.Has("error"):
			// The template escapes these, so markup in them stays text.
			fail(http.StatusBadRequest, "FusionAuth did not log you in: "+query.Get("error")+" "+query.Get("error_description"), errors.New(query.Get("error")))
			return
		case query.Get("code") == "":
			fail(http.StatusBadRequest, "This login response has no authorization code. Please log in again.", nil)
			return
		}

		ctx := client.upstream(r.Context())
		token, err := p.oauth2.Exchange(ctx, query.Get("code"), oauth2.VerifierOption(tx.Verifier))
		if err != nil {
			fail(http.StatusBadGateway, "FusionAuth did not complete the login. Please log in again.", err)
			return
		}
		now := sessions.now()
		record := session{ID: rand.Text(), Nonce: tx.Nonce, StartedAt: now, SeenAt: now}
		tokens, err := client.verifyTokens(ctx, p, token, record)
		switch {
		case errors.Is(err, errProviderUnavailable):
			fail(http.StatusServiceUnavailable, "Changebank cannot reach FusionAuth right now. Please log in again shortly.", err)
			return
		case err != nil:
			fail(http.StatusBadGateway, "FusionAuth's answer failed a security check, so you are not logged in. Please try again.", err)
			return
		}
		if _, err := sessions.start(w, tokens, record); err != nil {
			fail(http.StatusBadGateway, "Changebank could not store your login. Please try again.", err)
			return
		}
		logger.Info("user logged in", "sub", tokens.subject)
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	})
}

// pendingLogins returns the logins this browser started that have not
// expired at now. An unreadable cookie holds none.
func pendingLogins(r *http.Request, cookies *cookieSealer, now time.Time) []loginTransaction {
	var pending []loginTransaction
	if err := cookies.readJSON(r, loginCookie, &pending); err != nil {
		return nil
	}
	return slices.DeleteFunc(pending, func(tx loginTransaction) bool { return now.After(tx.ExpiresAt) })
}

package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// loginLifetime is how long a user has to finish logging in at FusionAuth.
const loginLifetime = 10 * time.Minute

// maxPendingLogins is how many logins one browser may have started and not
// finished (one per tab, say). cb_login holds them all, so that a login in
// one tab does not make another tab's login fail.
const maxPendingLogins = 5

// loginTransaction is what one login remembers between /login and /callback.
// It travels in the sealed cb_login cookie, so there is no server-side state
// and any replica can finish a login another one started.
type loginTransaction struct {
	// State ties the callback to this browser's login (CSRF protection).
	State string `json:"state"`
	// Nonce ties the ID token to this login (replay protection).
	Nonce string `json:"nonce"`
	// Verifier is the PKCE secret: the code is useless without it.
	Verifier string `json:"verifier"`
	// ExpiresAt bounds the login even if the browser keeps the cookie longer.
	ExpiresAt time.Time `json:"expires_at"`
}

// handleLogin starts a login: it remembers a fresh state, nonce and PKCE
// verifier in a sealed cookie and sends the browser to FusionAuth.
func handleLogin(auth *authenticator, pages *pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		provider, err := auth.provider(r.Context())
		if err != nil {
			pages.renderError(w, r, http.StatusServiceUnavailable,
				"Changebank cannot reach FusionAuth yet. If you have just started it, wait a moment and try again.")
			return
		}

		tx := loginTransaction{
			State:     rand.Text(), // 26 base32 characters: 130 random bits.
			Nonce:     rand.Text(),
			Verifier:  oauth2.GenerateVerifier(),
			ExpiresAt: auth.now().Add(loginLifetime),
		}
		// Keep the logins other tabs started, newest last.
		pending := append(auth.pendingLogins(r), tx)
		if len(pending) > maxPendingLogins {
			pending = pending[len(pending)-maxPendingLogins:]
		}
		if err := auth.cookies.setJSON(w, loginCookie, pending, loginLifetime); err != nil {
			auth.logger.Error("setting the login cookie", "err", err)
			pages.renderError(w, r, http.StatusInternalServerError, "Changebank could not start the login. Please try again.")
			return
		}

		authorizeURL := provider.oauth2.AuthCodeURL(tx.State,
			oidc.Nonce(tx.Nonce),
			oauth2.S256ChallengeOption(tx.Verifier),
		)
		http.Redirect(w, r, authorizeURL, http.StatusSeeOther)
	})
}

// handleCallback finishes a login. FusionAuth redirects the browser here with
// an authorization code; the app checks the response belongs to the login
// this browser started, exchanges the code for tokens, verifies them and
// starts the session.
func handleCallback(auth *authenticator, pages *pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The transaction is single use: remove it whatever happens next, so
		// a replayed callback finds nothing to complete. Other tabs' logins
		// stay, unless the callback matches none: it is then unsolicited or
		// stale, and every pending login goes.
		query := r.URL.Query()
		pending := auth.pendingLogins(r)
		var tx loginTransaction
		found := false
		for i, p := range pending {
			if equalSecret(query.Get("state"), p.State) {
				tx, found = p, true
				pending = append(pending[:i], pending[i+1:]...)
				break
			}
		}
		if !found || len(pending) == 0 || auth.cookies.setJSON(w, loginCookie, pending, loginLifetime) != nil {
			auth.cookies.clear(w, loginCookie)
		}

		switch {
		case len(pending) == 0 && !found:
			auth.logger.Info("callback without a valid login cookie")
			pages.renderError(w, r, http.StatusBadRequest,
				"This login has expired or was already used. Please log in again from the home page.")
			return
		case !found:
			auth.logger.Warn("callback state does not match the login")
			pages.renderError(w, r, http.StatusBadRequest,
				"This login response does not belong to the login you started. Please log in again.")
			return
		case query.Has("iss") && query.Get("iss") != auth.issuer:
			// RFC 9207: the response says who sent it, which defeats mix-up
			// attacks when an app trusts several identity providers.
			auth.logger.Warn("callback iss does not match the issuer", "iss", query.Get("iss"))
			pages.renderError(w, r, http.StatusBadRequest,
				"This login response came from an unexpected identity provider. Please log in again.")
			return
		case query.Has("error"):
			// The template escapes these, so markup in them stays text.
			auth.logger.Info("FusionAuth answered the login with an error", "error", query.Get("error"))
			pages.renderError(w, r, http.StatusBadRequest, fmt.Sprintf("FusionAuth did not log you in: %s %s",
				truncate(query.Get("error"), 100), truncate(query.Get("error_description"), 300)))
			return
		case query.Get("code") == "":
			pages.renderError(w, r, http.StatusBadRequest, "This login response has no authorization code. Please log in again.")
			return
		}

		provider, err := auth.provider(r.Context())
		if err != nil {
			pages.renderError(w, r, http.StatusServiceUnavailable, "Changebank cannot reach FusionAuth right now. Please try again shortly.")
			return
		}
		// RFC 9207 again: when FusionAuth says it always names itself, a
		// code without iss may come from another provider, so it is not sent
		// to FusionAuth's token endpoint.
		if provider.namesItselfInCallbacks && !query.Has("iss") {
			auth.logger.Warn("callback has no iss, though FusionAuth announces one")
			pages.renderError(w, r, http.StatusBadRequest,
				"This login response came from an unexpected identity provider. Please log in again.")
			return
		}

		ctx := auth.upstreamContext(r.Context())
		token, err := provider.oauth2.Exchange(ctx, query.Get("code"), oauth2.VerifierOption(tx.Verifier))
		if err != nil {
			auth.logger.Warn("exchanging the authorization code", "err", err)
			pages.renderError(w, r, http.StatusBadGateway, "FusionAuth did not complete the login. Please log in again.")
			return
		}
		tokens, err := auth.verifyTokenResponse(ctx, provider, token, func(nonce string) error {
			if !equalSecret(nonce, tx.Nonce) {
				return errors.New("ID token nonce does not match the login")
			}
			return nil
		})
		if err != nil {
			auth.logger.Warn("refusing FusionAuth's tokens", "err", err)
			pages.renderError(w, r, http.StatusBadGateway,
				"FusionAuth's answer failed a security check, so you are not logged in. Please try again.")
			return
		}
		now := auth.now()
		if err := auth.startSession(w, tokens, sessionState{StartedAt: now, SeenAt: now}); err != nil {
			auth.logger.Error("storing the session", "err", err)
			pages.renderError(w, r, http.StatusBadGateway, "Changebank could not store your login. Please try again.")
			return
		}
		auth.logger.Info("user logged in", "sub", tokens.user.Subject)
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	})
}

// pendingLogins returns the logins this browser started that have not
// expired. An unreadable cookie holds none.
func (a *authenticator) pendingLogins(r *http.Request) []loginTransaction {
	var pending []loginTransaction
	if err := a.cookies.getJSON(r, loginCookie, &pending); err != nil {
		return nil
	}
	now := a.now()
	return slices.DeleteFunc(pending, func(tx loginTransaction) bool { return now.After(tx.ExpiresAt) })
}

// truncate shortens s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

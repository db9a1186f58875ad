package main

import (
	"log/slog"
	"net/http"
)

// newHandler builds the application's whole HTTP handler: the routes, then
// the headers and logging every response gets.
func newHandler(logger *slog.Logger, pages *pages, client *oidcClient, sessions *sessions, cfg config) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, logger, pages, client, sessions, cfg.issuerOrigin)
	var handler http.Handler = mux
	handler = withSecurityHeaders(contentSecurityPolicy(cfg.issuerOrigin), cfg.appURL.Scheme == "https", handler)
	handler = logRequests(logger, handler)
	return handler
}

// addRoutes lists every route of the application in one place, with the
// middleware each one runs through. issuerOrigin, FusionAuth's, is the only
// origin that may frame the logout page.
func addRoutes(mux *http.ServeMux, logger *slog.Logger, pages *pages, client *oidcClient, sessions *sessions, issuerOrigin string) {
	// Forms that change something accept only same-origin posts. Go's
	// CrossOriginProtection checks the browser's Sec-Fetch-Site and Origin
	// headers, so no CSRF token is needed.
	sameOrigin := http.NewCrossOriginProtection()
	sameOrigin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.renderError(w, r, http.StatusForbidden, "This form can only be sent from Changebank's own pages.")
	}))

	mux.Handle("GET /{$}", redirectIfLoggedIn(sessions, "/account", handleHome(pages)))
	mux.Handle("GET /login", noStore(handleLogin(client, sessions.cookies, pages, logger)))
	mux.Handle("GET /callback", noStore(handleCallback(client, sessions, pages, logger)))
	mux.Handle("GET /account", requireLogin(sessions, pages, handleAccount(pages)))
	mux.Handle("GET /make-change", requireLogin(sessions, pages, handleMakeChangeForm(pages)))
	mux.Handle("POST /make-change", sameOrigin.Handler(requireLogin(sessions, pages, handleMakeChange(pages))))
	mux.Handle("POST /logout", sameOrigin.Handler(noStore(handleLogout(client, sessions, pages, logger))))
	mux.Handle("GET /logout", noStore(handleFrontChannelLogout(client, sessions, pages, logger, issuerOrigin)))
	mux.Handle("GET /static/", handleStatic(pages))
	mux.Handle("/", handleNotFound(pages))
}

package main

import (
	"log/slog"
	"net/http"
)

// newHandler builds the application's whole HTTP handler: the routes, then
// the headers and logging every response gets.
func newHandler(logger *slog.Logger, pages *pages, auth *authenticator, cfg config) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, pages, auth, cfg.issuerOrigin())
	var handler http.Handler = mux
	handler = withSecurityHeaders(contentSecurityPolicy(cfg.issuerOrigin()), cfg.appURL.Scheme == "https", handler)
	handler = logRequests(logger, handler)
	return handler
}

// addRoutes lists every route of the application in one place, with the
// middleware each one runs through.
func addRoutes(mux *http.ServeMux, pages *pages, auth *authenticator, issuerOrigin string) {
	// Forms that change something accept only same-origin posts. Go's
	// CrossOriginProtection checks the browser's Sec-Fetch-Site and Origin
	// headers, so no CSRF token is needed.
	sameOrigin := http.NewCrossOriginProtection()
	sameOrigin.SetDenyHandler(handleCrossOriginDenied(pages))

	mux.Handle("GET /{$}", redirectIfLoggedIn(auth, "/account", handleHome(pages)))
	mux.Handle("GET /login", noStore(handleLogin(auth, pages)))
	mux.Handle("GET /callback", noStore(handleCallback(auth, pages)))
	mux.Handle("GET /account", requireLogin(auth, pages, handleAccount(pages)))
	mux.Handle("GET /make-change", requireLogin(auth, pages, handleMakeChangeForm(pages)))
	mux.Handle("POST /make-change", sameOrigin.Handler(requireLogin(auth, pages, handleMakeChange(pages))))
	mux.Handle("POST /logout", sameOrigin.Handler(noStore(handleLogout(auth, pages))))
	mux.Handle("GET /logout", noStore(handleFrontChannelLogout(auth, pages, issuerOrigin)))
	mux.Handle("GET /static/", handleStatic(pages))
	mux.Handle("/", handleNotFound(pages))
}

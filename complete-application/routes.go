package main

import (
	"log/slog"
	"net/http"
)

// newHandler builds the application's whole HTTP handler: the routes, then
// the headers and logging every response gets. The Content-Security-Policy
// lets forms reach FusionAuth, where logout redirects (see login.go).
func newHandler(logger *slog.Logger, pages *pages, auth *login, https bool) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, pages, auth)
	var handler http.Handler = mux
	handler = withSecurityHeaders(contentSecurityPolicy(auth.issuerOrigin), https, handler)
	handler = logRequests(logger, handler)
	return handler
}

// addRoutes lists every route of the application in one place, with the
// middleware each one runs through.
func addRoutes(mux *http.ServeMux, pages *pages, auth *login) {
	// Forms that change something accept only same-origin posts. Go's
	// CrossOriginProtection checks the browser's Sec-Fetch-Site and Origin
	// headers, so no CSRF token is needed.
	sameOrigin := http.NewCrossOriginProtection()
	sameOrigin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.renderError(w, r, http.StatusForbidden, "This form can only be sent from Changebank's own pages.")
	}))

	mux.Handle("GET /{$}", auth.redirectIfLoggedIn(handleHome(pages)))
	mux.Handle("GET /login", auth.start)
	mux.Handle("GET /callback", auth.callback)
	mux.Handle("GET /account", auth.requireLogin(handleAccount(pages)))
	mux.Handle("GET /make-change", auth.requireLogin(handleMakeChangeForm(pages)))
	mux.Handle("POST /make-change", sameOrigin.Handler(auth.requireLogin(handleMakeChange(pages))))
	mux.Handle("POST /logout", auth.logout)
	mux.Handle("GET /logout", auth.logoutReturn)
	mux.Handle("GET /static/", handleStatic(pages))
	mux.Handle("/", handleNotFound(pages))
}

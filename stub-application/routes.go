package main

import (
	"log/slog"
	"net/http"
)

// newHandler builds the application's whole HTTP handler: the routes, then
// the headers and logging every response gets.
func newHandler(logger *slog.Logger, pages *pages, cfg config) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, pages)
	var handler http.Handler = mux
	handler = withSecurityHeaders(contentSecurityPolicy(), cfg.appURL.Scheme == "https", handler)
	handler = logRequests(logger, handler)
	return handler
}

// addRoutes lists every route of the application in one place, with the
// middleware each one runs through.
func addRoutes(mux *http.ServeMux, pages *pages) {
	mux.Handle("GET /{$}", handleHome(pages))
	mux.Handle("GET /login", handleLogin(pages))
	mux.Handle("GET /make-change", handleMakeChangeForm(pages))
	mux.Handle("POST /make-change", handleMakeChange(pages))
	mux.Handle("GET /static/", handleStatic(pages))
	mux.Handle("/", handleNotFound(pages))
}

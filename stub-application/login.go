package main

import "net/http"

// handleLogin is where logging in with FusionAuth will start. Until the
// quickstart adds it, the Log in button leads to a page that says so: a plain
// 404 would look like a bug.
func handleLogin(pages *pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.renderError(w, r, http.StatusNotImplemented,
			"Login is not connected to FusionAuth yet. Follow the quickstart to add it.")
	})
}

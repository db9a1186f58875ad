package main

import (
	"net/http"
)

// accountPage is the data of templates/pages/account.html.
type accountPage struct {
	Email   string
	Balance string
}

// handleAccount shows the logged-in user's account. requireLogin has
// already verified the session.
func handleAccount(pages *pages) http.Handler {
	// Changebank is a demonstration: every account holds the same balance,
	// so it is formatted once.
	balance := formatDollars(0)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := userFrom(r.Context())
		pages.render(w, r, http.StatusOK, "account.html", accountPage{Email: u.Email, Balance: balance})
	})
}

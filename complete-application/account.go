package main

import "net/http"

// accountPage is the data of templates/pages/account.html.
type accountPage struct {
	Email   string
	Balance string
}

// handleAccount shows the logged-in user's account. requireLogin has
// already checked the session. Changebank is a demonstration: every account
// holds nothing.
func handleAccount(pages *pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := currentUser(r.Context())
		pages.render(w, r, http.StatusOK, "account.html", accountPage{Email: user.Email, Balance: formatDollars(0)})
	})
}

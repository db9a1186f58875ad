package main

import "net/http"

// maxFormBytes bounds a posted form: an amount needs a few bytes, not megabytes.
const maxFormBytes = 4 << 10

// makeChangePage is the data of templates/pages/make-change.html.
type makeChangePage struct {
	Amount string  // what the user typed, shown again in the form
	Change *change // the result, when there is one
	Error  string  // why the amount was refused, when it was
}

// handleMakeChangeForm shows the empty make-change form.
func handleMakeChangeForm(pages *pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.render(w, r, http.StatusOK, "make-change.html", makeChangePage{})
	})
}

// handleMakeChange answers the make-change form.
func handleMakeChange(pages *pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			pages.renderError(w, r, http.StatusBadRequest, "The form could not be read. Please go back and try again.")
			return
		}
		page := makeChangePage{Amount: r.PostForm.Get("amount")}
		cents, err := parseDollars(page.Amount)
		if err != nil {
			page.Error = err.Error()
			pages.render(w, r, http.StatusBadRequest, "make-change.html", page)
			return
		}
		result := makeChange(cents)
		page.Change = &result
		pages.render(w, r, http.StatusOK, "make-change.html", page)
	})
}

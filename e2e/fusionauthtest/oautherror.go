package fusionauthtest

import (
	"net/http"
	"net/url"
	"strings"
)

// FusionAuth's OAuth error, in its three forms: a JSON body, a redirect back to
// the application, and (pages.go) the error page.

// oauthError is FusionAuth's OAuth error body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Reason      string `json:"error_reason"`
}

// The model check (modelcheck_test.go) reads every oauthError literal in this
// package and holds its error and error_reason to FusionAuth's published enums,
// so every OAuth error the stand-in gives is written as one.

// redirectWithError sends an OAuth error back to the (already validated) redirect_uri.
// Like a successful answer it carries iss (RFC 9207).
func redirectWithError(w http.ResponseWriter, r *http.Request, p authorizeParams, e *oauthError, issuer string) {
	q := errorQuery(e, p.State) + "&iss=" + url.QueryEscape(issuer)
	http.Redirect(w, r, withQuery(p.RedirectURI, q), http.StatusFound)
}

// errorQuery is an error redirect's query, in FusionAuth's order.
func errorQuery(e *oauthError, state string) string {
	q := "error=" + url.QueryEscape(e.Error) + "&error_reason=" + url.QueryEscape(e.Reason) +
		"&error_description=" + url.QueryEscape(e.Description)
	if state != "" {
		q += "&state=" + url.QueryEscape(state)
	}
	return q
}

func withQuery(uri, query string) string {
	if strings.Contains(uri, "?") {
		return uri + "&" + query
	}
	return uri + "?" + query
}

func writeOAuthError(w http.ResponseWriter, status int, e oauthError) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, e)
}

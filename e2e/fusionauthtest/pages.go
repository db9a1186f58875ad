package fusionauthtest

import (
	"embed"
	"encoding/json"
	"html/template"
	"net/http"
)

//go:embed pages/*.html
var pageFiles embed.FS

// pages are parsed once; a template set is safe for concurrent use.
var pages = template.Must(template.ParseFS(pageFiles, "pages/*.html"))

type loginPage struct {
	Params  authorizeParams
	LoginID string
	Error   string
}

type loggingOutPage struct {
	Redirect   string
	LogoutURLs []string
}

func renderPage(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// The status line is sent: an error now (a client that has gone, or a page
	// that no test renders) can only cut the page short.
	_ = pages.ExecuteTemplate(w, name, data)
}

func renderLogin(w http.ResponseWriter, status int, page loginPage) {
	renderPage(w, status, "login.html", page)
}

// renderError shows FusionAuth's OAuth error page, which includes the error as JSON.
func renderError(w http.ResponseWriter, status int, e *oauthError) {
	details, _ := json.MarshalIndent(e, "", "  ") // a struct of strings always marshals
	renderPage(w, status, "error.html", string(details))
}

func renderNotRegistered(w http.ResponseWriter, appName any) {
	renderPage(w, http.StatusOK, "not-registered.html", appName)
}

func renderLoggingOut(w http.ResponseWriter, page loggingOutPage) {
	renderPage(w, http.StatusOK, "logging-out.html", page)
}

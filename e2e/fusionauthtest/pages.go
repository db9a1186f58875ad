package fusionauthtest

import (
	"embed"
	"encoding/json"
	"html/template"
	"net/http"
)

//go:embed pages/*.html
var pageFiles embed.FS

//go:embed pages/standin.css
var stylesheet []byte

// pages are parsed once; a template set is safe for concurrent use.
var pages = template.Must(template.ParseFS(pageFiles, "pages/*.html"))

// stylesheetPath is where the pages find their stylesheet: a path of the
// stand-in's own, so that it is never taken for one of FusionAuth's.
const stylesheetPath = "/standin/standin.css"

// pageSecurityPolicy lets the pages load only the stand-in's own stylesheet
// and run no script, so that the browser refuses an inline style or script
// that crept into a page, as it does on the application's pages. It
// leaves forms and frames alone: the login form's redirect to the application
// and the logout page's frames must work as FusionAuth's do.
const pageSecurityPolicy = "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self'; " +
	"frame-src *; object-src 'none'; base-uri 'none'"

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
	w.Header().Set("Content-Security-Policy", pageSecurityPolicy)
	w.WriteHeader(status)
	// The status line is sent: an error now (a client that has gone, or a page
	// that no test renders) can only cut the page short.
	_ = pages.ExecuteTemplate(w, name, data)
}

// handleStylesheet serves the pages' stylesheet.
func handleStylesheet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(stylesheet)
	})
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

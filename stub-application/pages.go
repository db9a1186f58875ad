package main

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
)

// The templates and the stylesheet are compiled into the binary, so the app
// runs from any directory and ships as a single file.
//
//go:embed templates static
var embeddedFiles embed.FS

// pages holds the parsed templates: each page is the shared layout plus one
// file of templates/pages, which defines its "title" and "content" blocks.
type pages struct {
	logger    *slog.Logger
	templates map[string]*template.Template
	static    fs.FS // the static folder alone
}

// parsePages parses every template once, at start, so a broken template
// stops the program instead of failing a request.
func parsePages(logger *slog.Logger) (*pages, error) {
	layout, err := template.ParseFS(embeddedFiles, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parsing layout: %w", err)
	}
	files, err := fs.Glob(embeddedFiles, "templates/pages/*.html")
	if err != nil {
		return nil, fmt.Errorf("listing pages: %w", err)
	}
	static, err := fs.Sub(embeddedFiles, "static")
	if err != nil {
		return nil, fmt.Errorf("opening the static folder: %w", err)
	}
	p := &pages{logger: logger, templates: make(map[string]*template.Template), static: static}
	for _, file := range files {
		page := template.Must(layout.Clone()) // Clone fails only after Execute.
		if _, err := page.ParseFS(embeddedFiles, file); err != nil {
			return nil, fmt.Errorf("parsing %s: %w", file, err)
		}
		p.templates[path.Base(file)] = page
	}
	return p, nil
}

// render writes the page called name with the given status. It renders into
// a buffer first, so a template error can still become a clean error page
// instead of half a page.
func (p *pages) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	page, ok := p.templates[name]
	if !ok {
		p.logger.Error("no such page template", "template", name)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	if err := page.ExecuteTemplate(&buf, "layout", data); err != nil {
		p.logger.Error("rendering page", "template", name, "path", r.URL.Path, "err", err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// errorPage is the data of templates/pages/error.html.
type errorPage struct{ Title, Message string }

// renderError answers with the styled error page. The message is shown to the
// user, so it must never hold a token, a secret or a raw upstream error:
// those go to the log.
func (p *pages) renderError(w http.ResponseWriter, r *http.Request, status int, message string) {
	p.render(w, r, status, "error.html", errorPage{Title: http.StatusText(status), Message: message})
}

// handleHome serves the public home page.
func handleHome(pages *pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.render(w, r, http.StatusOK, "home.html", nil)
	})
}

// handleNotFound answers every path no other route matches ("/" matches all).
func handleNotFound(pages *pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.renderError(w, r, http.StatusNotFound, "There is no page at this address.")
	})
}

// handleStatic serves the stylesheet and images, and nothing else: the file
// server sees only the static folder, so no path can climb out of it to the
// templates (the mux does not clean an escaped dot-dot, /static/%2e%2e/…).
func handleStatic(pages *pages) http.Handler {
	files := http.StripPrefix("/static", http.FileServerFS(pages.static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Files only: no directory listing, no file server redirect.
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if info, err := fs.Stat(pages.static, name); err != nil || info.IsDir() {
			pages.renderError(w, r, http.StatusNotFound, "There is no page at this address.")
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

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
	"sync"
)

// The templates and the stylesheet are compiled into the binary, so the app
// runs from any directory and ships as a single file.
//
//go:embed templates static
var embeddedFiles embed.FS

// pages holds the parsed templates. Each page is the shared layout plus one
// file from templates/pages that defines its "title" and "content" blocks.
type pages struct {
	logger    *slog.Logger
	templates map[string]*template.Template
	// static is the static folder alone, for handleStatic.
	static fs.FS
	// buffers are reused across requests: a page rendered into a fresh
	// buffer would grow it, and allocate, several times over.
	buffers sync.Pool
	// contentType is built once and shared by every page's response, as
	// Header.Set would allocate it again for each one.
	contentType []string
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
	p := &pages{
		logger:      logger,
		templates:   make(map[string]*template.Template),
		static:      static,
		contentType: []string{"text/html; charset=utf-8"},
	}
	for _, file := range files {
		page, err := layout.Clone()
		if err != nil {
			return nil, fmt.Errorf("cloning layout for %s: %w", file, err)
		}
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
	page, ok := p.templates[name]
	if !ok {
		p.logger.Error("no such page template", "template", name)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	buf, _ := p.buffers.Get().(*bytes.Buffer)
	if buf == nil {
		// Room for the largest page, so rendering never grows the buffer.
		buf = bytes.NewBuffer(make([]byte, 0, 8<<10))
	}
	defer func() {
		buf.Reset()
		p.buffers.Put(buf)
	}()
	if err := page.ExecuteTemplate(buf, "layout", data); err != nil {
		p.logger.Error("rendering page", "template", name, "path", r.URL.Path, "err", err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	w.Header()["Content-Type"] = p.contentType
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// errorPage is the data of templates/pages/error.html.
type errorPage struct {
	Title   string
	Message string
}

// renderError answers with the styled error page. The message is shown to the
// user, so it must never contain a token, a secret or a raw upstream error:
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

// handleNotFound answers every path no other route matches, because the
// pattern "/" matches everything.
func handleNotFound(pages *pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.renderError(w, r, http.StatusNotFound, "There is no page at this address.")
	})
}

// handleStatic serves the embedded stylesheet and images, and nothing else:
// the file server sees only the static folder (fs.Sub), so no path can climb
// out of it to the templates. The mux does not clean an escaped dot-dot
// (/static/%2e%2e/templates/…), so that cannot be left to the mux.
func handleStatic(pages *pages) http.Handler {
	static := pages.static
	files := http.StripPrefix("/static", http.FileServerFS(static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Only files, so no directory listing and no file server redirect.
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if info, err := fs.Stat(static, name); err != nil || info.IsDir() {
			pages.renderError(w, r, http.StatusNotFound, "There is no page at this address.")
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

package main

import (
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// contentSecurityPolicy allows only the app's own files: no inline script or
// style, no plugins, no framing. formTargets are the other origins a form may
// be sent to; the logout form's answer is a redirect to FusionAuth, and
// browsers check form-action against redirects too.
func contentSecurityPolicy(formTargets ...string) string {
	formAction := strings.Join(append([]string{"'self'"}, formTargets...), " ")
	return "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self'; " +
		"object-src 'none'; base-uri 'none'; form-action " + formAction + "; frame-ancestors 'none'"
}

// withSecurityHeaders sets the headers every response carries. Handlers may
// override them, as the front-channel logout page does for framing. With
// https, browsers are told to use nothing else for this host for a year, so a
// network attacker cannot downgrade a later visit to http and read its cookies.
func withSecurityHeaders(csp string, https bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		// The callback URL carries the authorization code: never leak it
		// (or any other URL) to another site in a Referer header.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		// For browsers that predate CSP frame-ancestors.
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if https {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// logRequests writes one line per request. It logs the path but never the
// query string or cookies: the callback's query holds the authorization code,
// and the cookies hold the tokens.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)),
		)
	})
}

// statusRecorder remembers the status code a handler wrote, for the log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

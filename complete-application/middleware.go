package main

import (
	"context"
	"errors"
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

// noStore keeps responses that depend on the user's session out of every cache,
// including the browser's back-forward history.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// requireLogin lets only logged-in users through to next, with their session
// in the request's context; everyone else goes back to the home page. A
// session that cannot be checked right now is kept, and the user told so.
func requireLogin(sessions *sessions, pages *pages, next http.Handler) http.Handler {
	return noStore(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := sessions.load(w, r)
		switch {
		case err == nil:
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionContextKey{}, s)))
		case errors.Is(err, errLoggedOut):
			http.Redirect(w, r, "/", http.StatusSeeOther)
		case errors.Is(err, errRetryRequest):
			// The same URL again, method and body too, with the newest cookies.
			http.Redirect(w, r, r.URL.RequestURI(), http.StatusTemporaryRedirect)
		case errors.Is(err, errProviderUnavailable):
			sessions.logger.Warn("cannot check the session", "err", err)
			pages.renderError(w, r, http.StatusServiceUnavailable, "Changebank cannot reach FusionAuth to check your login. Please try again shortly.")
		default:
			sessions.logger.Warn("cannot refresh the session", "err", err)
			pages.renderError(w, r, http.StatusBadGateway, "FusionAuth did not renew your login. Please try again shortly.")
		}
	}))
}

// redirectIfLoggedIn sends logged-in users to target and serves next to
// everyone else, including when their login cannot be checked right now.
func redirectIfLoggedIn(sessions *sessions, target string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := sessions.load(w, r)
		switch {
		case err == nil:
			http.Redirect(w, r, target, http.StatusSeeOther)
		case errors.Is(err, errRetryRequest):
			http.Redirect(w, r, r.URL.RequestURI(), http.StatusTemporaryRedirect)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

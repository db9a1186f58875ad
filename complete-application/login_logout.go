package main

import (
	"crypto/rand"
	"log/slog"
	"net/http"
)

// handleLogout answers the app's logout form (POST, same origin only). It
// opens the session as every page does, so a cookie set that would not open
// a page makes no call to FusionAuth. Deleting the cookies ends only this
// browser's copy of the session, so it revokes the refresh token too: a copy
// of the cookies then dies with its access token. And it sends the browser to
// end FusionAuth's session, so that the next person here must enter a
// password: even without the ID token (client_id names the app), and even
// when the revocation failed.
func handleLogout(client *oidcClient, sessions *sessionKeeper, show loginErrorFunc, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record, _, openErr := sessions.open(r)
		var idToken string // for id_token_hint; logout goes on without it
		if openErr == nil && sessions.cookies.open(r, idTokenCookie, record.ID, &idToken) != nil {
			idToken = ""
		}
		p, discoveryErr := client.provider(r.Context())
		marker := logoutMarker{SessionID: record.ID, State: rand.Text()}
		if openErr == nil {
			err := client.revoke(r.Context(), p, record.RefreshToken)
			marker.RevocationFailed = err != nil
			logger.Info("user logged out", "sub", record.Subject, "revocation", revocationOutcome(err))
		}
		sessions.endByLogout(w, marker)

		if discoveryErr != nil {
			logger.Warn("logged out of this app only; FusionAuth could not be reached", "err", discoveryErr)
			show(w, r, http.StatusServiceUnavailable, msgLogoutLocalOnly)
			return
		}
		endSession := *p.endSession
		query := endSession.Query()
		query.Set("client_id", client.clientID)
		if idToken != "" {
			query.Set("id_token_hint", idToken)
		}
		query.Set("post_logout_redirect_uri", client.logoutURL)
		query.Set("state", marker.State)
		endSession.RawQuery = query.Encode()
		http.Redirect(w, r, endSession.String(), http.StatusSeeOther)
	})
}

// handleLogoutReturn is the app's logout URL, GET /logout, which FusionAuth
// loads in two ways, and which nothing else may use to log anyone out:
//   - at the end of a logout this app started, a top-level navigation with
//     the state the logout marker keeps;
//   - for a logout another application started, in a hidden iframe of its
//     logging-out page (front-channel logout). The browser says so in
//     Sec-Fetch-Dest. It carries the session's cookies only when FusionAuth
//     and the app share a site (see cookieSealer.cookie).
//
// A link on another site is neither: it changes nothing, so that no page can
// log users out of this one. Neither does HEAD.
func handleLogoutReturn(client *oidcClient, sessions *sessionKeeper, show loginErrorFunc, logger *slog.Logger, issuerOrigin, afterLogout string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		marker, marked := sessions.logoutMarker(r)
		state := r.URL.Query().Get("state")
		switch {
		case r.Method != http.MethodGet:
			w.WriteHeader(http.StatusNoContent)

		case state != "" && marked && marker.State != "" && equalSecret(state, marker.State):
			if marker.RevocationFailed {
				show(w, r, http.StatusOK, msgLogoutNotRevoked)
				return
			}
			http.Redirect(w, r, afterLogout, http.StatusSeeOther)

		case r.Header.Get("Sec-Fetch-Dest") == "iframe":
			// FusionAuth's page may frame this response; no other site may.
			w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors "+issuerOrigin)
			w.Header().Del("X-Frame-Options")
			record, _, err := sessions.open(r)
			if err != nil {
				return // No session here that opens: nothing to end.
			}
			err = client.revoke(r.Context(), client.discovered.Load(), record.RefreshToken)
			logger.Info("user logged out through FusionAuth", "sub", record.Subject, "revocation", revocationOutcome(err))
			marker.SessionID = record.ID
			sessions.endByLogout(w, marker)

		default:
			logger.Warn("refusing a logout this app did not start", "has_state", state != "", "sec_fetch_dest", r.Header.Get("Sec-Fetch-Dest"))
			show(w, r, http.StatusBadRequest, msgLogoutNotStarted)
		}
	})
}

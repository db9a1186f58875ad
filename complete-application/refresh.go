package main

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// retryMarkLifetime is how long a request that lost a refresh race has to
// come back for its one retry.
const retryMarkLifetime = time.Minute

// errRefreshFailed means FusionAuth answered a refresh with neither tokens
// nor a refusal. The session is kept: the next request tries again.
var errRefreshFailed = errors.New("FusionAuth did not renew the session")

// refresh gets new tokens with the session's refresh token, checks them as
// at login, and replaces the session's cookies. Each request redeems its own
// refresh token: no answer is handed to another request, which could be
// another user's. Under FusionAuth's default policy (Reusable), two tabs
// refreshing at once both succeed; under OneTimeUse, see retryOnce.
func (s *sessions) refresh(w http.ResponseWriter, r *http.Request, p *provider, record session) (session, error) {
	if record.RefreshToken == "" {
		return session{}, s.end(w, "an expired access token and no refresh token", nil)
	}
	ctx := s.oidc.upstream(r.Context())
	// A token with only a refresh token is invalid: the source refreshes it.
	token, err := p.oauth2.TokenSource(ctx, &oauth2.Token{RefreshToken: record.RefreshToken}).Token()
	var refused *oauth2.RetrieveError
	switch {
	case errors.As(err, &refused) && refused.ErrorCode == "invalid_grant":
		// Expired, revoked at logout, or used up by another request.
		return s.retryOnce(w, r, record)
	case err != nil:
		return session{}, fmt.Errorf("%w: %w", errRefreshFailed, err)
	}
	tokens, err := s.oidc.verifyTokens(ctx, p, token, record)
	switch {
	case errors.Is(err, errProviderUnavailable):
		return session{}, err
	case err != nil:
		return session{}, s.end(w, "refreshed tokens that failed a check", err)
	}
	record.SeenAt = s.now()
	if record, err = s.start(w, tokens, record); err != nil {
		return session{}, s.end(w, "refreshed tokens that cannot be stored", err)
	}
	s.logger.Info("refreshed the session", "sub", record.Subject)
	return record, nil
}

// retryOnce answers a refused refresh. Under OneTimeUse, another request of
// the browser may just have redeemed the token, and its answer carries the
// new cookies, which deleting now could delete. So the first refusal sends
// the browser to the same URL again (307), marking the token, and the retry
// carries the browser's newest cookies. A second refusal of the same token
// ends the session: a revoked token costs one retry, never a loop.
func (s *sessions) retryOnce(w http.ResponseWriter, r *http.Request, record session) (session, error) {
	if refused, err := s.cookies.read(r, retryCookie, record.ID); err == nil && equalSecret(string(refused), record.RefreshToken) {
		return session{}, s.end(w, "a refresh token FusionAuth refused twice", nil)
	}
	c, err := s.cookies.sealedCookie(retryCookie, record.ID, []byte(record.RefreshToken), retryMarkLifetime)
	if err != nil {
		return session{}, s.end(w, "a refused refresh token", err)
	}
	setCookie(w, c)
	s.logger.Info("FusionAuth refused the refresh token; retrying once with the newest cookies", "sub", record.Subject)
	return session{}, errRetryRequest
}

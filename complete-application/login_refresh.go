package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// sharedRefreshWindow is how long a refresh's answer stays with the session
// that asked for it, for its other requests: those that waited for it, and
// those that left the browser a moment before its new cookies arrived.
const sharedRefreshWindow = 10 * time.Second

// refreshed is the answer to one refresh.
type refreshed struct {
	tokens verifiedTokens // the new tokens, when err is nil
	// refreshToken is the refresh token FusionAuth answered with, even when
	// the tokens beside it could not be checked now.
	refreshToken string
	err          error
}

// refreshFlights lets the requests of one session share one refresh. Two tabs
// whose access token expired together would otherwise each redeem the same
// refresh token: fine under FusionAuth's default policy (Reusable), but under
// OneTimeUse the second is refused, and a provider that detects reuse (Ory
// Hydra, Auth0, Okta) then revokes the whole chain, the first tab's new token
// too. A flight belongs to one session id and to the tokens it replaces, all
// from the session's sealed cookies, so an answer only ever goes to the
// requests that carried those very cookies: never to another session, which
// could be another user's, nor to a later refresh of the same session. A logout
// forgets the session's flight, so that a copy of its cookies cannot pick up
// its last answer. Replicas do not share flights; there, the provider's grace
// period for a reused token is the answer (FusionAuth: the
// refreshTokenOneTimeUseConfiguration of the application's JWT settings).
type refreshFlights struct {
	mu      sync.Mutex
	flights map[string]*refreshFlight // by session id
}

type refreshFlight struct {
	replaces [sha256.Size]byte // the refresh and access tokens it replaces, hashed
	done     chan struct{}     // closed when answer is set
	answer   refreshed
}

func newRefreshFlights() *refreshFlights {
	return &refreshFlights{flights: make(map[string]*refreshFlight)}
}

// redeem returns the answer to refreshing session s, whose expired access
// token is accessToken: its own, or the one another request with the same
// cookies is getting or just got.
func (f *refreshFlights) redeem(ctx context.Context, client *oidcClient, p *provider, s session, accessToken string) refreshed {
	replaces := sha256.Sum256([]byte(s.RefreshToken + "\x00" + accessToken))
	f.mu.Lock()
	flight, shared := f.flights[s.ID]
	if !shared || flight.replaces != replaces {
		shared = false
		flight = &refreshFlight{replaces: replaces, done: make(chan struct{})}
		f.flights[s.ID] = flight
	}
	f.mu.Unlock()
	if shared {
		select {
		case <-flight.done:
			return flight.answer
		case <-ctx.Done():
			return refreshed{err: fmt.Errorf("%w: %w", errRefreshFailed, ctx.Err())}
		}
	}

	// Not cancelled when this browser goes away: under OneTimeUse the old
	// token is spent once FusionAuth answers, and others may be waiting.
	flight.answer = refreshSession(context.WithoutCancel(ctx), client, p, s)
	close(flight.done)
	forget := func() {
		f.mu.Lock()
		if f.flights[s.ID] == flight {
			delete(f.flights, s.ID)
		}
		f.mu.Unlock()
	}
	if flight.answer.err == nil {
		time.AfterFunc(sharedRefreshWindow, forget)
	} else {
		forget() // A failure is not shared with later requests: they try again.
	}
	return flight.answer
}

// forget drops the flight of the session with this id.
func (f *refreshFlights) forget(sessionID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.flights, sessionID)
}

// refreshSession gets new tokens with the session's refresh token and checks
// them as at login.
func refreshSession(ctx context.Context, client *oidcClient, p *provider, s session) refreshed {
	ctx = client.upstream(ctx)
	// A token with only a refresh token is invalid: the source refreshes it.
	token, err := p.oauth2.TokenSource(ctx, &oauth2.Token{RefreshToken: s.RefreshToken}).Token()
	var refused *oauth2.RetrieveError
	switch {
	case errors.As(err, &refused) && refused.ErrorCode == "invalid_grant":
		// Expired, revoked at logout, or (with reuse detection) spent.
		return refreshed{err: fmt.Errorf("FusionAuth refused the refresh token: %w", err)}
	case err != nil:
		return refreshed{err: fmt.Errorf("%w: %w", errRefreshFailed, err)}
	}
	tokens, err := client.verifyRefresh(ctx, p, token, s)
	if err != nil && !errors.Is(err, errProviderUnavailable) {
		err = fmt.Errorf("refreshed tokens that failed a check: %w", err)
	}
	return refreshed{tokens: tokens, refreshToken: token.RefreshToken, err: err}
}

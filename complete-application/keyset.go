package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// keyRefetchInterval is how often a token signed by a key not yet seen may
// make the app fetch FusionAuth's key set again.
const keyRefetchInterval = 30 * time.Second

// limitedKeySet is an oidc.KeySet that checks a JWT's signature against
// FusionAuth's published keys, cached. go-oidc's RemoteKeySet fetches the key
// set again for every token no cached key verifies, with no limit, so anyone
// can make the app hammer FusionAuth with tokens that name unknown key ids.
// This one fetches again at most once per keyRefetchInterval: after a key
// rotation, the first token signed by the new key triggers that fetch.
//
// go-jose parses and verifies the signature; go-oidc's verifier, which calls
// VerifySignature, has already checked the header's algorithm and checks the
// claims afterwards.
type limitedKeySet struct {
	jwksURL    string
	httpClient *http.Client
	now        func() time.Time

	mu        sync.Mutex
	keys      jose.JSONWebKeySet
	fetchedAt time.Time     // zero until the first fetch
	fetching  chan struct{} // closed when the fetch in progress ends; nil if none
}

var errKeyRefetchLimited = errors.New("token signed by an unknown key, and the key set was fetched moments ago")

// VerifySignature returns the JWT's payload if one of FusionAuth's keys
// signed it.
func (k *limitedKeySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, fmt.Errorf("parsing the JWT: %w", err)
	}
	// The compact serialization has exactly one signature.
	kid := jws.Signatures[0].Header.KeyID

	keys, fetchedAt := k.cached()
	if payload, ok := verifyWithKeys(jws, keys, kid); ok {
		return payload, nil
	}
	if !fetchedAt.IsZero() && k.now().Sub(fetchedAt) < keyRefetchInterval {
		return nil, errKeyRefetchLimited
	}
	keys, err = k.fetch(ctx, fetchedAt)
	if err != nil {
		return nil, err
	}
	if payload, ok := verifyWithKeys(jws, keys, kid); ok {
		return payload, nil
	}
	return nil, errors.New("no key of FusionAuth's key set verifies the JWT's signature")
}

func (k *limitedKeySet) cached() (jose.JSONWebKeySet, time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys, k.fetchedAt
}

// verifyWithKeys tries the keys with the JWT's key id (every key if it has none).
func verifyWithKeys(jws *jose.JSONWebSignature, keys jose.JSONWebKeySet, kid string) ([]byte, bool) {
	for _, key := range keys.Keys {
		if kid != "" && key.KeyID != kid {
			continue
		}
		if payload, err := jws.Verify(key); err == nil {
			return payload, true
		}
	}
	return nil, false
}

// fetch gets the key set, unless another request fetched it since seen: then
// that fetch's keys are the answer. Concurrent callers share one fetch.
func (k *limitedKeySet) fetch(ctx context.Context, seen time.Time) (jose.JSONWebKeySet, error) {
	k.mu.Lock()
	if !k.fetchedAt.Equal(seen) {
		defer k.mu.Unlock()
		return k.keys, nil
	}
	if wait := k.fetching; wait != nil {
		k.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return jose.JSONWebKeySet{}, ctx.Err()
		}
		keys, _ := k.cached()
		return keys, nil
	}
	done := make(chan struct{})
	k.fetching = done
	k.mu.Unlock()

	// The fetch is shared, so it does not stop with the request that
	// started it; the client's timeout bounds it.
	keys, err := k.download(context.WithoutCancel(ctx))

	k.mu.Lock()
	defer k.mu.Unlock()
	k.fetching = nil
	close(done)
	// A failed fetch counts too: FusionAuth being down is no reason to ask
	// it again on every request.
	k.fetchedAt = k.now()
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	k.keys = keys
	return keys, nil
}

func (k *limitedKeySet) download(ctx context.Context) (jose.JSONWebKeySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.jwksURL, nil)
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("fetching FusionAuth's keys: %w", err)
	}
	resp, err := k.httpClient.Do(req)
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("fetching FusionAuth's keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return jose.JSONWebKeySet{}, fmt.Errorf("fetching FusionAuth's keys: %s", resp.Status)
	}
	var keys jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&keys); err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("decoding FusionAuth's keys: %w", err)
	}
	return keys, nil
}

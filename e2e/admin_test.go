package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"
)

// setAccessTokenLifetime changes the Changebank application's access-token lifetime through
// FusionAuth's admin API, as an administrator would, and restores the old value when the test
// ends. The same requests work on a real FusionAuth and on the stand-in.
func setAccessTokenLifetime(t *testing.T, seconds int) {
	t.Helper()
	var app struct {
		Application struct {
			JWTConfiguration struct {
				TimeToLiveInSeconds int `json:"timeToLiveInSeconds"`
			} `json:"jwtConfiguration"`
		} `json:"application"`
	}
	if err := callApplicationAPI(http.MethodGet, nil, &app); err != nil {
		t.Fatalf("read the Changebank application's settings: %v", err)
	}
	original := app.Application.JWTConfiguration.TimeToLiveInSeconds
	if original <= 0 {
		t.Fatalf("the Changebank application's jwtConfiguration.timeToLiveInSeconds is %d: not read correctly", original)
	}
	if err := patchAccessTokenLifetime(seconds); err != nil {
		t.Fatalf("shorten the access-token lifetime to %ds: %v", seconds, err)
	}
	t.Cleanup(func() {
		if err := patchAccessTokenLifetime(original); err != nil {
			t.Errorf("restore the access-token lifetime to %ds: %v", original, err)
		}
	})
}

func patchAccessTokenLifetime(seconds int) error {
	patch := map[string]any{"application": map[string]any{
		"jwtConfiguration": map[string]any{"timeToLiveInSeconds": seconds},
	}}
	return callApplicationAPI(http.MethodPatch, patch, nil)
}

// authorizeAppURL tells FusionAuth's Changebank application about a complete application at
// appURL, as an administrator would for an app on another port: its callback and logout URLs
// join the authorized redirect URLs, and its logout URL becomes the one FusionAuth's
// front-channel logout loads. The function it returns puts the old values back, for the
// FusionAuth may be the reader's own.
func authorizeAppURL(appURL string) (restore func(), err error) {
	type oauthConfiguration struct {
		AuthorizedRedirectURLs []string `json:"authorizedRedirectURLs"`
		LogoutURL              string   `json:"logoutURL"`
	}
	var app struct {
		Application struct {
			OAuthConfiguration oauthConfiguration `json:"oauthConfiguration"`
		} `json:"application"`
	}
	if err := callApplicationAPI(http.MethodGet, nil, &app); err != nil {
		return nil, err
	}
	patch := func(c oauthConfiguration) error {
		return callApplicationAPI(http.MethodPatch, map[string]any{"application": map[string]any{"oauthConfiguration": c}}, nil)
	}
	original := app.Application.OAuthConfiguration
	if err := patch(oauthConfiguration{
		AuthorizedRedirectURLs: append(slices.Clone(original.AuthorizedRedirectURLs), appURL+"/callback", appURL+"/logout"),
		LogoutURL:              appURL + "/logout",
	}); err != nil {
		return nil, err
	}
	return func() {
		warnOnError(patch(original), "give the Changebank application its redirect and logout URLs back")
	}, nil
}

// callApplicationAPI sends one request to /api/application/{id} with the kickstart's API key,
// and decodes the answer into out unless it is nil.
func callApplicationAPI(method string, body, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var reqBody io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reqBody = bytes.NewReader(b)
	}
	url := suite.fusionAuth.url + "/api/application/" + suite.cfg.applicationID
	req, err := http.NewRequestWithContext(ctx, method, url, reqBody)
	if err != nil {
		return err
	}
	// FusionAuth takes the API key itself as the Authorization header, without a scheme.
	req.Header.Set("Authorization", suite.cfg.apiKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, answer)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(answer, out)
}

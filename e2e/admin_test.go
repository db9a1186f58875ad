package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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

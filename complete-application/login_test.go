package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNewLoginRefusesAConfigThatCannotWork: the seam refuses, at start, what
// would otherwise fail later or silently: a secret key too short to seal
// with, session limits of zero (every session would end at its next
// request), a missing piece the login calls, an issuer that is no URL. The
// control is a whole config.
func TestNewLoginRefusesAConfigThatCannotWork(t *testing.T) {
	appURL, err := url.Parse("http://localhost:5000")
	require.NoError(t, err)
	whole := func() loginConfig {
		return loginConfig{
			Issuer: kickstartIssuer, ClientID: kickstartClientID, ClientSecret: kickstartClientSecret,
			AppURL: appURL, SecretKeys: [][]byte{[]byte(testSecretKey)},
			IdleTimeout: 15 * time.Minute, MaxLifetime: 8 * time.Hour,
			AfterLogin: "/account", AfterLogout: "/",
			ShowError: func(http.ResponseWriter, *http.Request, int, string) {},
			Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
			Now:       time.Now,
		}
	}
	tests := []struct {
		name    string
		edit    func(*loginConfig)
		wantErr string
	}{
		{"the whole config, the control", func(*loginConfig) {}, ""},
		{"a short secret key", func(c *loginConfig) { c.SecretKeys = [][]byte{[]byte("short")} }, "at least 32 bytes"},
		{"a short previous key", func(c *loginConfig) { c.SecretKeys = append(c.SecretKeys, []byte("short")) }, "at least 32 bytes"},
		{"no secret key", func(c *loginConfig) { c.SecretKeys = nil }, "required"},
		{"no idle timeout", func(c *loginConfig) { c.IdleTimeout = 0 }, "positive session limits"},
		{"no lifetime", func(c *loginConfig) { c.MaxLifetime = 0 }, "positive session limits"},
		{"no ShowError", func(c *loginConfig) { c.ShowError = nil }, "required"},
		{"an issuer that is no URL", func(c *loginConfig) { c.Issuer = "localhost" }, "Issuer must be an absolute URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := whole()
			tt.edit(&cfg)
			auth, err := newLogin(cfg)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, "http://localhost:9011", auth.issuerOrigin)
				return
			}
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// Configuration: the defaults match the kickstart, the environment is read,
// and values that cannot work, or that are unsafe anywhere but on the
// developer's own machine, are refused at start with a message that names
// the variable to fix.

package main

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadConfigDefaultsMatchKickstart(t *testing.T) {
	cfg, err := loadConfig(func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, "http://localhost:5000", cfg.appURL.String())
	assert.Equal(t, ":5000", cfg.listenAddr)
	assert.Equal(t, "http://localhost:9011", cfg.issuer)
	assert.Equal(t, "e9fdb985-9173-4e01-9d73-ac2d60d1dc8e", cfg.clientID)
	assert.Equal(t, "super-secret-secret-that-should-be-regenerated-for-production", cfg.clientSecret)
	require.Len(t, cfg.secretKeys, 1, "one key, and no previous one")
	assert.Len(t, cfg.secretKeys[0], 52, "a random key when APP_SECRET_KEY is unset")
	assert.NotEmpty(t, cfg.warnings, "a warning about the random key")
}

func TestLoadConfigReadsEnvironment(t *testing.T) {
	const previousSecretKey = "the-test-secret-key-before-the-last-change"
	env := map[string]string{
		"APP_URL":                 "https://bank.example/",
		"PORT":                    "8080",
		"ISSUER":                  "https://login.example/tenant",
		"CLIENT_ID":               "client",
		"CLIENT_SECRET":           "secret",
		"APP_SECRET_KEY":          testSecretKey,
		"APP_SECRET_KEY_PREVIOUS": previousSecretKey,
	}
	cfg, err := loadConfig(func(name string) string { return env[name] })
	require.NoError(t, err)
	assert.Equal(t, "https://bank.example", cfg.appURL.String())
	assert.Equal(t, ":8080", cfg.listenAddr)
	assert.Equal(t, "https://login.example/tenant", cfg.issuer)
	assert.Equal(t, "client", cfg.clientID)
	assert.Equal(t, "secret", cfg.clientSecret)
	// The key that seals comes first; the previous one only opens.
	assert.Equal(t, [][]byte{[]byte(testSecretKey), []byte(previousSecretKey)}, cfg.secretKeys)
	assert.Empty(t, cfg.warnings)
}

// TestLoadConfigListenAddress: PORT alone makes APP_URL
// http://localhost:PORT and is the port listened on; otherwise the app
// listens on APP_URL's port, or the scheme's.
func TestLoadConfigListenAddress(t *testing.T) {
	tests := []struct {
		name                 string
		env                  map[string]string
		wantAppURL, wantAddr string
	}{
		{"PORT alone", map[string]string{"PORT": "8123"}, "http://localhost:8123", ":8123"},
		{"APP_URL alone", map[string]string{"APP_URL": "http://127.0.0.1:7000"}, "http://127.0.0.1:7000", ":7000"},
		{"APP_URL and PORT, behind a proxy", map[string]string{"APP_URL": "http://localhost:7000", "PORT": "8123"}, "http://localhost:7000", ":8123"},
		{"APP_URL https without a port", map[string]string{"APP_URL": "https://localhost"}, "https://localhost", ":443"},
		{"APP_URL http without a port", map[string]string{"APP_URL": "http://localhost"}, "http://localhost", ":80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(func(name string) string { return tt.env[name] })
			require.NoError(t, err)
			assert.Equal(t, tt.wantAppURL, cfg.appURL.String(), "APP_URL")
			assert.Equal(t, tt.wantAddr, cfg.listenAddr, "the listen address")
		})
	}
}

// TestLoadConfigReadsSessionLimits: the limits come from the environment,
// with defaults a bank would pick.
func TestLoadConfigReadsSessionLimits(t *testing.T) {
	cfg, err := loadConfig(func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, 15*time.Minute, cfg.sessionIdleTimeout)
	assert.Equal(t, 8*time.Hour, cfg.sessionMaxLifetime)

	env := map[string]string{"SESSION_IDLE_TIMEOUT": "5m", "SESSION_MAX_LIFETIME": "1h30m"}
	cfg, err = loadConfig(func(name string) string { return env[name] })
	require.NoError(t, err)
	assert.Equal(t, 5*time.Minute, cfg.sessionIdleTimeout)
	assert.Equal(t, 90*time.Minute, cfg.sessionMaxLifetime)
}

// TestLoadConfigRefusesInvalidValues: each bad value stops the start with
// a message that begins with the variable to fix.
//
// CLIENT_ID and CLIENT_SECRET are not among them: empty, each means the
// kickstart's default, like every other variable, and a wrong value is
// FusionAuth's to refuse.
func TestLoadConfigRefusesInvalidValues(t *testing.T) {
	tests := []struct {
		name, value string
	}{
		{"APP_URL", "localhost:5000"},
		{"APP_URL", "ftp://localhost:5000"},
		{"APP_URL", "http://localhost:5000/bank"},
		{"APP_URL", "http://localhost:5000/?x=1"},
		{"APP_URL", "http://localhost:99999"},
		{"PORT", "http"},
		{"PORT", "70000"},
		{"PORT", "-1"},
		{"ISSUER", "localhost:9011"},
		{"ISSUER", "http://"},
		{"ISSUER", "http://localhost:9011?tenant=x"},
		{"APP_SECRET_KEY", "too-short"},
		{"APP_SECRET_KEY_PREVIOUS", "too-short"},
	}
	for _, tt := range tests {
		_, err := loadConfig(func(name string) string {
			if name == tt.name {
				return tt.value
			}
			return ""
		})
		if assert.Error(t, err, "%s=%q", tt.name, tt.value) {
			assert.True(t, strings.HasPrefix(err.Error(), tt.name+":"), "%s=%q: the message names the variable: %v", tt.name, tt.value, err)
		}
	}
}

// TestLoadConfigRefusesAShortPreviousKey: APP_SECRET_KEY_PREVIOUS, when
// set, is held to the same 32 characters as APP_SECRET_KEY, and the message
// names it, not APP_SECRET_KEY; 32 characters are enough.
func TestLoadConfigRefusesAShortPreviousKey(t *testing.T) {
	tests := []struct {
		length  int
		wantErr bool
	}{
		{31, true},
		{32, false},
	}
	for _, tt := range tests {
		previous := strings.Repeat("p", tt.length)
		env := map[string]string{"APP_SECRET_KEY": testSecretKey, "APP_SECRET_KEY_PREVIOUS": previous}
		cfg, err := loadConfig(func(name string) string { return env[name] })
		if !tt.wantErr {
			if assert.NoError(t, err, "a previous key of %d characters", tt.length) {
				assert.Equal(t, [][]byte{[]byte(testSecretKey), []byte(previous)}, cfg.secretKeys)
			}
			continue
		}
		if assert.Error(t, err, "a previous key of %d characters", tt.length) {
			assert.True(t, strings.HasPrefix(err.Error(), "APP_SECRET_KEY_PREVIOUS: must be at least 32 characters"), err.Error())
		}
	}
}

// TestLoadConfigRefusesUnsafeDeployments: anywhere but on this machine, the
// start is refused for plain http, the kickstart's public client secret, or
// a random cookie key, with a message that names the variable.
//
// There is no opt-out for plain http: plain http to another host is refused
// whatever else is set, ALLOW_PLAIN_HTTP included.
func TestLoadConfigRefusesUnsafeDeployments(t *testing.T) {
	deployed := map[string]string{
		"APP_URL":        "https://bank.example",
		"ISSUER":         "https://login.example",
		"CLIENT_SECRET":  "the-application's-own-secret",
		"APP_SECRET_KEY": testSecretKey,
	}
	tests := []struct {
		name    string
		change  map[string]string
		wantErr string // the variable the message names; "" for a start
	}{
		{"the control: https everywhere, own secrets", nil, ""},
		{"APP_URL plain http on another host", map[string]string{"APP_URL": "http://bank.example"}, "APP_URL"},
		{"ISSUER plain http on another host", map[string]string{"ISSUER": "http://login.example"}, "ISSUER"},
		{"ISSUER plain http on this machine", map[string]string{"ISSUER": "http://127.0.0.1:9011"}, ""},
		{"the kickstart's client secret", map[string]string{"CLIENT_SECRET": ""}, "CLIENT_SECRET"},
		{"no APP_SECRET_KEY", map[string]string{"APP_SECRET_KEY": ""}, "APP_SECRET_KEY"},
		{"plain http with ALLOW_PLAIN_HTTP=true", map[string]string{"APP_URL": "http://10.0.0.5:5000", "ISSUER": "http://10.0.0.6:9011", "ALLOW_PLAIN_HTTP": "true"}, "APP_URL"},
		{"ISSUER plain http with ALLOW_PLAIN_HTTP=1", map[string]string{"ISSUER": "http://10.0.0.6:9011", "ALLOW_PLAIN_HTTP": "1"}, "ISSUER"},
		{"SESSION_IDLE_TIMEOUT not a duration", map[string]string{"SESSION_IDLE_TIMEOUT": "15"}, "SESSION_IDLE_TIMEOUT"},
		{"SESSION_MAX_LIFETIME negative", map[string]string{"SESSION_MAX_LIFETIME": "-8h"}, "SESSION_MAX_LIFETIME"},
		{"idle timeout past the lifetime", map[string]string{"SESSION_IDLE_TIMEOUT": "9h"}, "SESSION_IDLE_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := maps.Clone(deployed)
			maps.Copy(env, tt.change)
			cfg, err := loadConfig(func(name string) string { return env[name] })
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.True(t, strings.HasPrefix(err.Error(), tt.wantErr+":"), "the message names %s: %v", tt.wantErr, err)
				return
			}
			require.NoError(t, err)
			assert.Empty(t, cfg.warnings)
		})
	}
}

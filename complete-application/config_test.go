package main

import (
	"testing"

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
	assert.Len(t, cfg.secretKey, 52, "a random key when APP_SECRET_KEY is unset")
	assert.NotEmpty(t, cfg.warnings, "a warning about the random key")
	assert.Equal(t, "http://localhost:9011", cfg.issuerOrigin())
}

func TestLoadConfigReadsEnvironment(t *testing.T) {
	env := map[string]string{
		"APP_URL":        "https://bank.example/",
		"PORT":           "8080",
		"ISSUER":         "https://login.example/tenant",
		"CLIENT_ID":      "client",
		"CLIENT_SECRET":  "secret",
		"APP_SECRET_KEY": testSecretKey,
	}
	cfg, err := loadConfig(func(name string) string { return env[name] })
	require.NoError(t, err)
	assert.Equal(t, "https://bank.example", cfg.appURL.String())
	assert.Equal(t, ":8080", cfg.listenAddr)
	assert.Equal(t, "https://login.example/tenant", cfg.issuer)
	assert.Equal(t, "https://login.example", cfg.issuerOrigin())
	assert.Equal(t, []byte(testSecretKey), cfg.secretKey)
	assert.Empty(t, cfg.warnings)
}

// TestLoadConfigRefusesInvalidValues: each bad value stops the start with
// a message that names the variable to fix.
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
		{"ISSUER", "localhost:9011"},
		{"ISSUER", "http://"},
		{"ISSUER", "http://localhost:9011?tenant=x"},
		{"CLIENT_ID", " "},
		{"CLIENT_SECRET", " "},
		{"APP_SECRET_KEY", "too-short"},
	}
	for _, tt := range tests {
		_, err := loadConfig(func(name string) string {
			if name == tt.name {
				return tt.value
			}
			return ""
		})
		if assert.Error(t, err, "%s=%q", tt.name, tt.value) {
			assert.Contains(t, err.Error(), tt.name, "%s=%q: the message names the variable", tt.name, tt.value)
		}
	}
}

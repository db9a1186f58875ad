package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseDollars(t *testing.T) {
	tests := []struct {
		input     string
		wantCents int64
		wantErr   string // a part of the message; "" for success
	}{
		{"0.29", 29, ""},
		{"0.58", 58, ""},
		{"1.02", 102, ""},
		{"0.15", 15, ""},
		{"1", 100, ""},
		{"1.5", 150, ""},
		{".75", 75, ""},
		{"5.", 500, ""},
		{" $12.34 ", 1234, ""},
		{"0", 0, ""},
		{"007.00", 700, ""},
		{"1000000", maxAmountCents, ""},
		{"1000000.01", 0, "too large"},
		{"99999999", 0, "too large"},
		{strings.Repeat("0", 15) + "1", 100, ""},
		{strings.Repeat("1", 21), 0, "too large"},
		{"", 0, "enter an amount"},
		{"   ", 0, "enter an amount"},
		{"$", 0, "enter an amount"},
		{".", 0, "digits"},
		{"-0.01", 0, "negative"},
		{"+1", 0, "digits"},
		{"1e2", 0, "digits"},
		{"1E2", 0, "digits"},
		{"NaN", 0, "digits"},
		{"Inf", 0, "digits"},
		{"-Inf", 0, "negative"},
		{"0x10", 0, "digits"},
		{"1_000", 0, "digits"},
		{"1,000", 0, "digits"},
		{"1.2.3", 0, "digits"},
		{"0.001", 0, "two digits"},
		{"١٢", 0, "digits"}, // Arabic-Indic digits are not ASCII digits.
	}
	for _, tt := range tests {
		got, err := parseDollars(tt.input)
		if tt.wantErr == "" {
			if assert.NoError(t, err, "parseDollars(%q)", tt.input) {
				assert.Equal(t, tt.wantCents, got, "parseDollars(%q)", tt.input)
			}
			continue
		}
		if assert.Error(t, err, "parseDollars(%q)", tt.input) {
			assert.Contains(t, strings.ToLower(err.Error()), tt.wantErr, "parseDollars(%q)", tt.input)
		}
	}
}

func TestMakeChangeCounts(t *testing.T) {
	tests := []struct {
		cents                    int64
		wantAmount               string
		wantNickels, wantPennies int64
	}{
		{29, "$0.29", 5, 4},
		{58, "$0.58", 11, 3},
		{102, "$1.02", 20, 2},
		{15, "$0.15", 3, 0},
		{0, "$0.00", 0, 0},
		{maxAmountCents, "$1000000.00", 20_000_000, 0},
	}
	for _, tt := range tests {
		got := makeChange(tt.cents)
		assert.Equal(t, change{Amount: tt.wantAmount, Nickels: tt.wantNickels, Pennies: tt.wantPennies}, got, "makeChange(%d)", tt.cents)
	}
}

// FuzzParseDollars: no input panics, and every accepted amount is in range
// and formats back to the same number of cents.
func FuzzParseDollars(f *testing.F) {
	for _, seed := range []string{"0.29", "-1", "1e3", "NaN", ".5", "$1.02", "99999999999"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		cents, err := parseDollars(input)
		if err != nil {
			return
		}
		if cents < 0 || cents > maxAmountCents {
			t.Errorf("parseDollars(%q) = %d, out of range", input, cents)
		}
		c := makeChange(cents)
		if c.Nickels*5+c.Pennies != cents || c.Pennies >= 5 {
			t.Errorf("makeChange(%d) = %+v does not add up", cents, c)
		}
	})
}

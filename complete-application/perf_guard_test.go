package main

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestGCPercentUnlessGOGCIsSet: the app collects garbage less often than Go's
// default, but an operator's GOGC still decides.
func TestGCPercentUnlessGOGCIsSet(t *testing.T) {
	previous := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(previous) })

	tests := []struct {
		name string
		gogc string
		want int
	}{
		{"GOGC unset", "", gcPercent},
		{"GOGC set", "100", 100},
		{"GOGC=off", "off", 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			setGCPercent(func(name string) string {
				if name == "GOGC" {
					return tt.gogc
				}
				return ""
			})
			assert.Equal(t, tt.want, debug.SetGCPercent(100), "GC percent with GOGC=%q", tt.gogc)
		})
	}
}

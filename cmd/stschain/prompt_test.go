package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestToolEnv: a prompt's program gets no credential and none of
// stschain's variables.
func TestToolEnv(t *testing.T) {
	got := toolEnv([]string{"PATH=/bin", "AWS_SECRET_ACCESS_KEY=x", "DISPLAY=:0", "STSCHAIN_MFA_TOKEN=123456", "AWS_SESSION_TOKEN=y"})
	assert.Equal(t, []string{"PATH=/bin", "DISPLAY=:0"}, got)
}

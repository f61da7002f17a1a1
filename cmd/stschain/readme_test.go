package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readme(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	return string(data)
}

// The README's list of the variables exec removes is the code's.
func TestREADMEListsRemovedEnv(t *testing.T) {
	text := readme(t)
	start := strings.Index(text, "These variables never reach the command")
	end := strings.Index(text, "(A test checks that this list is the code's.)")
	require.True(t, start >= 0 && end > start, "the README has the list")
	var listed []string
	for _, m := range regexp.MustCompile("`([A-Z_]+)`").FindAllStringSubmatch(text[start:end], -1) {
		listed = append(listed, m[1])
	}
	assert.Equal(t, removedEnv, listed)
}

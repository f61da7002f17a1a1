package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const serialA = "arn:aws:iam::123456789012:mfa/alice"

// TestAskCode: the console prompt of Windows asks again after a line that
// is not a code, three times in all, and ends with its context.
func TestAskCode(t *testing.T) {
	var out strings.Builder
	code, err := askCode(t.Context(), strings.NewReader("12\n 123456 \n"), &out, serialA)
	require.NoError(t, err)
	assert.Equal(t, "123456", code)
	assert.Equal(t, "Enter MFA code for "+serialA+": stschain: that is not a 6-digit code; try again (2 of 3).\nEnter MFA code for "+serialA+": ", out.String())

	_, err = askCode(t.Context(), strings.NewReader("a\nb\nc\n123456\n"), io.Discard, serialA)
	assert.EqualError(t, err, "no valid MFA code entered for "+serialA+": want 6 digits")

	_, err = askCode(t.Context(), strings.NewReader(""), io.Discard, serialA)
	assert.ErrorIs(t, err, io.EOF)

	r, w := io.Pipe()
	defer w.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = askCode(ctx, r, io.Discard, serialA)
	assert.True(t, errors.Is(err, context.Canceled), "%v", err)
}

// TestToolEnv: a prompt's program gets no credential and none of
// stschain's variables.
func TestToolEnv(t *testing.T) {
	got := toolEnv([]string{"PATH=/bin", "AWS_SECRET_ACCESS_KEY=x", "DISPLAY=:0", "STSCHAIN_MFA_TOKEN=123456", "AWS_SESSION_TOKEN=y"})
	assert.Equal(t, []string{"PATH=/bin", "DISPLAY=:0"}, got)
}

package mfacode

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const serial = "arn:aws:iam::123456789012:mfa/alice"

// Ask asks again after a line that is not a code, three times in all,
// reads no further than the answer's line, and ends with its context.
// (The root package's prompt tests go through it line by line.)
func TestAsk(t *testing.T) {
	var out strings.Builder
	in := strings.NewReader("12\n 123456 \nrest")
	code, err := Ask(t.Context(), in, &out, serial, "")
	require.NoError(t, err)
	assert.Equal(t, "123456", code)
	assert.Equal(t, "Enter MFA code for "+serial+": stschain: that is not a 6-digit code; try again (2 of 3).\nEnter MFA code for "+serial+": ", out.String())
	rest, _ := io.ReadAll(in)
	assert.Equal(t, "rest", string(rest), "nothing after the answer is read")

	out.Reset()
	_, err = Ask(t.Context(), strings.NewReader("123456\n"), &out, serial, "the last code was used; wait for the next code")
	require.NoError(t, err)
	assert.Equal(t, "stschain: the last code was used; wait for the next code.\nEnter MFA code for "+serial+": ", out.String())

	_, err = Ask(t.Context(), strings.NewReader("a\nb\nc\n123456\n"), io.Discard, serial, "")
	assert.EqualError(t, err, "no valid MFA code entered for "+serial+": want 6 digits")

	_, err = Ask(t.Context(), strings.NewReader(""), io.Discard, serial, "")
	assert.ErrorIs(t, err, io.EOF)

	r, w := io.Pipe()
	defer w.Close() // ends the abandoned read
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = Ask(ctx, r, io.Discard, serial, "")
	assert.ErrorIs(t, err, context.Canceled)
}

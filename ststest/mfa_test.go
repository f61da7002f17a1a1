package ststest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tokenCodeFunc is stschain.TokenCodeFunc, which ststest cannot import.
type tokenCodeFunc func(ctx context.Context, serialNumber string) (string, error)

var _ tokenCodeFunc = (*Server)(nil).TokenCode

func TestTokenCode(t *testing.T) {
	s := NewInMemoryServer(testConfig())
	t.Cleanup(s.Close)
	ctx := ctxT(t)
	alice, carol := client(s, "alice"), client(s, "carol")
	withCode := func(serial, code string) func(*sts.AssumeRoleInput) {
		return func(in *sts.AssumeRoleInput) { in.SerialNumber, in.TokenCode = aws.String(serial), aws.String(code) }
	}

	code, err := s.TokenCode(ctx, aliceMFA)
	require.NoError(t, err)
	assert.Regexp(t, `^\d{6}$`, code)
	_, err = assume(ctx, alice, roleMFA, "with-token-code", withCode(aliceMFA, code))
	require.NoError(t, err, "a code the device showed is accepted")
	_, err = assume(ctx, alice, roleMFA, "again", withCode(aliceMFA, code))
	requireAPIError(t, err, "AccessDenied", msgMFAAssume)

	// Codes are accepted in any order, for GetSessionToken too.
	c1, err := s.TokenCode(ctx, aliceMFA)
	require.NoError(t, err)
	c2, err := s.TokenCode(ctx, aliceMFA)
	require.NoError(t, err)
	_, err = alice.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceMFA), TokenCode: aws.String(c2)})
	require.NoError(t, err)
	_, err = assume(ctx, alice, roleMFA, "first-code", withCode(aliceMFA, c1))
	require.NoError(t, err)

	// A code of carol's device is not one of alice's.
	cc, err := s.TokenCode(ctx, carolMFA)
	require.NoError(t, err)
	_, err = assume(ctx, alice, roleMFA, "carols-code", withCode(aliceMFA, cc))
	requireAPIError(t, err, "AccessDenied", msgMFAAssume)
	_, err = assume(ctx, carol, roleMFA, "carols-code", withCode(carolMFA, cc))
	require.NoError(t, err, "refusing it for alice did not use it up")

	// The fixed codes still work.
	_, err = assume(ctx, alice, roleMFA, "fixed", withCode(aliceMFA, "111111"))
	require.NoError(t, err)
}

func TestTokenCodeNeverRepeats(t *testing.T) {
	s := NewUnstartedServer(testConfig())
	seen := map[string]bool{}
	for range 2000 {
		for _, serial := range []string{aliceMFA, carolMFA} {
			code, err := s.TokenCode(t.Context(), serial)
			require.NoError(t, err)
			require.False(t, seen[code], "code %s returned twice", code)
			seen[code] = true
		}
	}
	for _, fixed := range testConfig().Users[0].MFACodes {
		assert.False(t, seen[fixed], "a fixed code is never handed out")
	}
}

func TestTokenCodeErrors(t *testing.T) {
	s := NewUnstartedServer(testConfig())
	_, err := s.TokenCode(t.Context(), "arn:aws:iam::123456789012:mfa/nobody")
	assert.EqualError(t, err, `ststest: no user in Config.Users has the MFA device "arn:aws:iam::123456789012:mfa/nobody"`)
	_, err = s.TokenCode(t.Context(), "")
	assert.Error(t, err, "bob has no device")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = s.TokenCode(ctx, aliceMFA)
	assert.ErrorIs(t, err, context.Canceled)

	// Once every code is gone, TokenCode says so.
	_, err = s.TokenCode(t.Context(), aliceMFA)
	require.NoError(t, err)
	s.mu.Lock()
	for n := range codeSpace {
		if n != 424242 {
			s.markReturned(n)
		}
	}
	s.mu.Unlock()
	last, err := s.TokenCode(t.Context(), carolMFA)
	require.NoError(t, err)
	assert.Equal(t, "424242", last)
	_, err = s.TokenCode(t.Context(), carolMFA)
	assert.EqualError(t, err, "ststest: TokenCode has returned all 1,000,000 six-digit codes")
}

package stschain

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The keys themselves, with their botocore golden values, are tested in
// internal/clicache; these tests check the wrappers the provider calls.

func TestCacheKeyWrappers(t *testing.T) {
	// Golden: botocore 1.43.11's key for RoleArn and a given RoleSessionName.
	k, err := assumeRoleCacheKey(&sts.AssumeRoleInput{
		RoleArn:         aws.String("arn:aws:iam::123456789012:role/demo"),
		RoleSessionName: aws.String("alice"),
	}, true)
	require.NoError(t, err)
	assert.Equal(t, "285e1c799d70dfec357767cc78c19246e5f667e0", k)

	// Golden: sha1 of {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "DurationSeconds": 3600,
	// "SerialNumber": "arn:aws:iam::123456789012:mfa/alice", "stschain:GetSessionToken": 1}.
	k, err = sessionTokenCacheKey(&sts.GetSessionTokenInput{
		DurationSeconds: aws.Int32(3600),
		SerialNumber:    aws.String("arn:aws:iam::123456789012:mfa/alice"),
	}, "AKIAIOSFODNN7EXAMPLE")
	require.NoError(t, err)
	assert.Equal(t, "ed3c06c3e63e549894572c4480d9add3e3fcd862", k)
}

func TestCacheKeyErrors(t *testing.T) {
	tests := []struct {
		name    string
		key     func() (string, error)
		wantErr string
	}{
		{"no role", func() (string, error) { return assumeRoleCacheKey(&sts.AssumeRoleInput{}, false) }, "no RoleArn"},
		{"bad policy", func() (string, error) {
			return assumeRoleCacheKey(&sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/demo"), Policy: aws.String(`{"a":`)}, false)
		}, "Policy is not valid JSON"},
		{"no access key", func() (string, error) { return sessionTokenCacheKey(nil, "") }, "access key ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.key()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), "stschain: cache key: "), err.Error())
			assert.Equal(t, 1, strings.Count(err.Error(), "stschain"), "the prefix once: %s", err)
		})
	}
}

func TestAccountFromARN(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:sts::123456789012:assumed-role/demo/alice": "123456789012",
		"arn:aws-cn:iam::123456789012:role/demo":            "123456789012",
		"arn:aws:s3:::bucket":                               "",
		"arn:aws:iam::12345678901:role/demo":                "",
		"arn:aws:iam::12345678901x:role/demo":               "",
		"not an arn":                                        "",
		"":                                                  "",
	} {
		assert.Equal(t, want, accountFromARN(in), in)
	}
}

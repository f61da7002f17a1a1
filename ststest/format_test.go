package ststest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/secrettest"
	"github.com/stschain/stschain/ststest"
)

// No fmt verb, slog handler or json.Marshal of a Server shows its users'
// keys, their TOTP seeds or a session it issued: they show its URL.
func TestServerSecretsHidden(t *testing.T) {
	const secret, seed = "formatTestSecretKey0123456789abcdefABCD", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	srv := ststest.NewServer(ststest.Config{AccountID: "123456789012", Users: []ststest.User{{
		Name: "alice", AccessKeyID: "AKIAFORMATTEST000001", SecretAccessKey: secret,
		MFASerial: "arn:aws:iam::123456789012:mfa/alice", TOTPSecret: seed,
	}}})
	defer srv.Close()
	out, err := sts.NewFromConfig(srv.AWSConfig("alice")).GetSessionToken(context.Background(), &sts.GetSessionTokenInput{})
	require.NoError(t, err)
	session := aws.ToString(out.Credentials.SecretAccessKey)
	token := aws.ToString(out.Credentials.SessionToken)

	secrettest.AssertHidden(t, srv, secret, seed, session, token)
	assert.Equal(t, "ststest.Server{"+srv.URL+"}", fmt.Sprintf("%+v", srv))
}

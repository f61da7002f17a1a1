package ststest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"
)

const (
	acct       = "123456789012"
	aliceKey   = "AKIAALICE00000000000"
	bobKey     = "AKIABOB0000000000000"
	carolKey   = "AKIACAROL00000000000"
	aliceMFA   = "arn:aws:iam::123456789012:mfa/alice"
	carolMFA   = "arn:aws:iam::123456789012:mfa/carol"
	totpSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	roleA      = "arn:aws:iam::123456789012:role/A"
	roleB      = "arn:aws:iam::123456789012:role/B"
	roleMFA    = "arn:aws:iam::123456789012:role/NeedsMFA"
	roleExt    = "arn:aws:iam::123456789012:role/External"
	roleLong   = "arn:aws:iam::123456789012:role/Long"
	roleShort  = "arn:aws:iam::123456789012:role/Short"
	roleMFA2   = "arn:aws:iam::123456789012:role/NeedsMFA2"
)

func testConfig() Config {
	return Config{
		AccountID: acct,
		Users: []User{
			{Name: "alice", AccessKeyID: aliceKey, SecretAccessKey: "alice-secret",
				MFASerial: aliceMFA, MFACodes: []string{"111111", "222222", "333333"}},
			{Name: "bob", AccessKeyID: bobKey, SecretAccessKey: "bob-secret"},
			{Name: "carol", AccessKeyID: carolKey, SecretAccessKey: "carol-secret",
				MFASerial: carolMFA, TOTPSecret: totpSecret},
		},
		Roles: []Role{
			{ARN: roleA, Trust: []string{"arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/carol"}},
			{ARN: roleB, Trust: []string{roleA}},
			{ARN: roleMFA, Trust: []string{"arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/carol"}, RequireMFA: true},
			{ARN: roleMFA2, Trust: []string{roleMFA}, RequireMFA: true},
			{ARN: roleExt, Trust: []string{acct}, ExternalID: "ext-123"},
			{ARN: roleLong, Trust: []string{"arn:aws:iam::123456789012:root", roleA}, MaxSessionDuration: 12 * time.Hour},
			{ARN: roleShort, Trust: []string{"arn:aws:iam::123456789012:user/alice"}, Lifetime: 10 * time.Second},
		},
	}
}

func newTestServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s := NewServer(cfg)
	t.Cleanup(s.Close)
	return s
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// client returns an STS client for a user's long-term keys.
func client(s *Server, user string) *sts.Client {
	return sts.NewFromConfig(s.AWSConfig(user))
}

// sessionClient returns an STS client signing with issued credentials.
func sessionClient(s *Server, c *types.Credentials) *sts.Client {
	cfg := s.AWSConfig("bob")
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	return sts.NewFromConfig(cfg)
}

func assume(ctx context.Context, c *sts.Client, role, name string, optFns ...func(*sts.AssumeRoleInput)) (*sts.AssumeRoleOutput, error) {
	in := &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String(name)}
	for _, fn := range optFns {
		fn(in)
	}
	return c.AssumeRole(ctx, in)
}

// requireAPIError asserts err is an smithy.APIError with the code and,
// when msg is not empty, the message.
func requireAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	require.Error(t, err)
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "not an APIError: %v", err)
	require.Equal(t, code, ae.ErrorCode(), "message: %s", ae.ErrorMessage())
	if msg != "" {
		require.Equal(t, msg, ae.ErrorMessage())
	}
}

// Web identity fixtures: an EKS cluster's provider and GitHub Actions'.
const (
	eksProvider    = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
	ciProvider     = "token.actions.githubusercontent.com"
	eksProviderARN = "arn:aws:iam::123456789012:oidc-provider/" + eksProvider
	ciProviderARN  = "arn:aws:iam::123456789012:oidc-provider/" + ciProvider
	eksToken       = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImVrcyJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDphcHAifQ.c2ln"
	ciToken        = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImNpIn0.eyJzdWIiOiJyZXBvOm9jdG8vYXBwOnJlZjpyZWZzL2hlYWRzL21haW4ifQ.c2ln"
	eksSubject     = "system:serviceaccount:default:app"
	ciSubject      = "repo:octo/app:ref:refs/heads/main"
	roleWeb        = "arn:aws:iam::123456789012:role/Web"
	roleWebChained = "arn:aws:iam::123456789012:role/WebChained"
	roleCI         = "arn:aws:iam::123456789012:role/CI"
	roleWebMFA     = "arn:aws:iam::123456789012:role/WebMFA"
)

// webConfig is testConfig with web identity tokens and the roles that
// trust their providers.
func webConfig() Config {
	cfg := testConfig()
	cfg.WebIdentityTokens = []WebIdentityToken{
		{Token: eksToken, Provider: eksProvider, Subject: eksSubject},
		{Token: ciToken, Provider: ciProvider, Subject: ciSubject, Audience: "sigstore"},
	}
	cfg.Roles = append(cfg.Roles,
		Role{ARN: roleWeb, Trust: []string{eksProviderARN}, MaxSessionDuration: 2 * time.Hour},
		Role{ARN: roleWebChained, Trust: []string{roleWeb}, MaxSessionDuration: 12 * time.Hour},
		Role{ARN: roleCI, Trust: []string{ciProviderARN}},
		Role{ARN: roleWebMFA, Trust: []string{eksProviderARN}, RequireMFA: true},
	)
	return cfg
}

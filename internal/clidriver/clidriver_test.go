package clidriver_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/clidriver"
	"github.com/stschain/stschain/ststest"
)

// Runs of the CLI see their own environment only, one after another.
func TestRunsAreIsolated(t *testing.T) {
	d := clidriver.Start(t)
	srv := ststest.NewServer(ststest.Config{
		AccountID: "123456789012",
		Users: []ststest.User{
			{Name: "alice", AccessKeyID: "AKIAALICE00000000000", SecretAccessKey: "alice-secret"},
			{Name: "bob", AccessKeyID: "AKIABOB0000000000000", SecretAccessKey: "bob-secret"},
		},
	})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, user := range []string{"alice", "bob", "alice"} {
		key := map[string]string{"alice": "AKIAALICE00000000000", "bob": "AKIABOB0000000000000"}[user]
		res, err := d.Run(ctx, clidriver.Request{
			Env: map[string]string{
				"HOME": t.TempDir(), "PATH": os.Getenv("PATH"),
				"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": user + "-secret",
				"AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": srv.URL,
			},
			Args: []string{"sts", "get-caller-identity", "--output", "text", "--query", "Arn"},
		})
		require.NoError(t, err)
		require.Zero(t, res.RC, res.Stderr)
		assert.Equal(t, "arn:aws:iam::123456789012:user/"+user, strings.TrimSpace(res.Stdout))
	}
	assert.Len(t, srv.Calls(ststest.Call{Action: "GetCallerIdentity", Status: 200}), 3)

	// A CLI that fails is a result, not an error.
	res, err := d.Run(ctx, clidriver.Request{Env: map[string]string{"HOME": t.TempDir(), "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}, Args: []string{"sts", "get-caller-identity"}})
	require.NoError(t, err)
	assert.NotZero(t, res.RC)
	assert.Contains(t, res.Stderr, "Unable to locate credentials")
}

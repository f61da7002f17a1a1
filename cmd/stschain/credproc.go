package main

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// expirationLayout is how credential_process output gives Expiration:
// RFC 3339 in UTC, whole seconds.
const expirationLayout = "2006-01-02T15:04:05Z"

// processCredentials is the JSON credential_process prints (version 1), as
// botocore's ProcessProvider and the Go SDK's processcreds read it:
// Version, AccessKeyId and SecretAccessKey are required; without
// Expiration the credentials are taken never to expire; AccountId (the
// account of an assumed role) lets the SDKs use account-based endpoints.
type processCredentials struct {
	Version         int    `json:"Version"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	SessionToken    string `json:"SessionToken,omitempty"`
	Expiration      string `json:"Expiration,omitempty"`
	AccountID       string `json:"AccountId,omitempty"`
}

func runCredentialProcess(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	const name = "credential-process"
	f, code, done := flagsOnly(name, args, stdout, stderr)
	if done {
		return code
	}
	ctx, stop := withSignals(ctx)
	defer stop()
	creds, _, code := retrieve(ctx, name, f, stderr, env)
	if code != exitOK {
		return code
	}
	out := processCredentials{
		Version:         1,
		AccessKeyID:     creds.AccessKeyID,
		SecretAccessKey: creds.SecretAccessKey,
		SessionToken:    creds.SessionToken,
		Expiration:      expirationOf(creds),
		AccountID:       creds.AccountID,
	}
	data, err := json.Marshal(out)
	if err != nil { // cannot happen: the struct holds strings and an int
		return fail(stderr, err)
	}
	if _, err := stdout.Write(append(data, '\n')); err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

// expirationOf formats when creds expire, "" when they do not.
func expirationOf(creds aws.Credentials) string {
	if !creds.CanExpire {
		return ""
	}
	return creds.Expires.UTC().Truncate(time.Second).Format(expirationLayout)
}

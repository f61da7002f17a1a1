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

// processCredentials is the JSON credential_process prints (version 1).
type processCredentials struct {
	Version         int    `json:"Version"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	SessionToken    string `json:"SessionToken,omitempty"`
	Expiration      string `json:"Expiration,omitempty"`
}

func runCredentialProcess(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	const name = "credential-process"
	f, rest, help, err := parseFlags(name, args)
	if help {
		printSubcommandHelp(stdout, name)
		return exitOK
	}
	if err != nil {
		return fail(stderr, err)
	}
	if len(rest) > 0 {
		return fail(stderr, usagef("stschain %s: unexpected argument %q: it takes flags only", name, rest[0]))
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

// retrieve builds the chain of f and retrieves the last link's
// credentials. On failure it has reported the error and returns the exit
// status.
func retrieve(ctx context.Context, name string, f *chainFlags, stderr io.Writer, env func(string) string) (aws.Credentials, *chain, int) {
	c, err := buildChain(ctx, name, f, stderr, env)
	if err != nil {
		return aws.Credentials{}, nil, fail(stderr, err)
	}
	creds, err := c.provider.Retrieve(ctx)
	if err != nil {
		if sig := signalOf(ctx); sig != nil {
			return aws.Credentials{}, nil, interrupted(stderr, sig)
		}
		return aws.Credentials{}, nil, fail(stderr, err)
	}
	return creds, c, exitOK
}

// expirationOf formats when creds expire, "" when they do not.
func expirationOf(creds aws.Credentials) string {
	if !creds.CanExpire {
		return ""
	}
	return creds.Expires.UTC().Truncate(time.Second).Format(expirationLayout)
}

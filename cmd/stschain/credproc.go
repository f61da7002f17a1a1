package main

import (
	"context"
	"encoding/json"
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

func credentialProcessCommand() *command {
	return &command{
		name:       "credential-process",
		args:       "[flags] [PROFILE]",
		profileArg: true,
		short:      "print the credentials for credential_process",
		long: `Prints the credentials of the chain's last link as the JSON that
credential_process in an AWS config profile expects, and nothing else:
  {"Version":1,"AccessKeyId":"...","SecretAccessKey":"...",
   "SessionToken":"...","Expiration":"2030-01-02T15:04:05Z"}
Sessions are cached, so repeated runs, and many processes at once, call
STS (and ask for MFA) once per session. Run "stschain help chain" for how
the flags build the chain.
`,
		example: `  [profile admin-daily]
  credential_process = stschain credential-process admin --session-duration 12h
`,
		flags: chainFlagSet,
		run:   runCredentialProcess,
	}
}

func runCredentialProcess(ctx context.Context, inv *invocation, f *chainFlags, _ []string) int {
	// A fresh session of the top link in the cache needs nothing more: no
	// chain, and no signal handling (nothing waits on the network).
	creds, ok := warmCredentials(ctx, inv, f)
	if !ok {
		var code int
		ctx, stop := withSignals(ctx)
		defer stop()
		if creds, _, code = retrieve(ctx, inv, f); code != exitOK {
			return code
		}
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
		return fail(inv.stderr, &cmdError{cmd: inv.cmd.name, err: err})
	}
	if _, err := inv.stdout.Write(append(data, '\n')); err != nil {
		return fail(inv.stderr, &cmdError{cmd: inv.cmd.name, err: err})
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

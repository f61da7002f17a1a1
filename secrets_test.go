package stschain

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/secrettest"
)

// No fmt verb, slog handler or JSON encoding of a type of this package
// shows a secret it holds: the master's keys, the sessions STS issued,
// MFA codes, or a secret quoted in a cause's message.
func TestSecretsHiddenInEveryOutput(t *testing.T) {
	ctx := context.Background()
	const secret, token, code = "MASTERsecretKEY0", "MASTERsessionTOKEN0", "975318"
	master := credentials.NewStaticCredentialsProvider("AKIAMASTER0000000", secret, token)
	client := newFakeSTS("A", 0)
	withMFA := func(o *Options) {
		o.SerialNumber = uniqueSerial(t)
		o.TokenCode = func(context.Context, string) (string, error) { return code, nil }
	}
	p := newFake(t, client, master, withRole(roleA), withMFA)
	creds, err := p.Retrieve(ctx)
	require.NoError(t, err)

	failing := newFake(t, client, errProvider{errors.New(`answer {"SecretAccessKey":"` + secret + `"}`)}, withRole(roleB))
	_, err = failing.Retrieve(ctx)
	var linkErr *Error
	require.ErrorAs(t, err, &linkErr)

	// A cause that keeps what it was answered in an exported field, as
	// the SDK's errors keep a response, and the event reporting it.
	var event RefreshEvent
	keeping := newFake(t, client, errProvider{&answerError{Body: `{"SecretAccessKey":"` + secret + `"}`}}, withRole(roleB),
		func(o *Options) { o.OnRefresh = func(ev RefreshEvent) { event = ev } })
	_, err = keeping.Retrieve(ctx)
	var keptErr *Error
	require.ErrorAs(t, err, &keptErr)
	require.ErrorAs(t, event.Err, new(*answerError), "the event reports the cause")

	poolOpts := PoolOptions{Options: []func(*Options){func(o *Options) { o.Client = client }}}
	pool, err := NewPool(aws.Config{Credentials: master}, func(po *PoolOptions) { *po = poolOpts })
	require.NoError(t, err)
	pooled, err := pool.Get(withRole(roleB), withMFA)
	require.NoError(t, err)
	pooledCreds, err := pooled.Retrieve(ctx)
	require.NoError(t, err)

	// Options with an external ID and a virtual MFA device's seed, and
	// the guard that saw its code.
	const externalID, seed = "EXTERNALidPLANTED", "JBSWY3DPEHPK3PXPJBSWY3DP"
	totpCode, err := TOTPTokenCode(seed)
	require.NoError(t, err)
	opts := Options{RoleARN: roleA, MasterCredentials: master, Client: client, ExternalID: externalID, SerialNumber: uniqueSerial(t), TokenCode: totpCode}
	var guard CodeGuard
	_, err = guard.fetch(ctx, opts.TokenCode, opts.SerialNumber)
	require.NoError(t, err)
	entry := CacheEntry{Credentials: creds}
	fc := newTestFileCache(t)
	writeEntryFile(t, fc, "k", `{"Credentials": {"AccessKeyId": "ASIAEXAMPLE00001", "SecretAccessKey": "`+secret+`;id", "SessionToken": "`+token+`", "Expiration": "2099-01-01T00:00:00Z"}}`)
	_, _, loadErr := fc.Load(ctx, "k")
	require.ErrorIs(t, loadErr, ErrMalformedResponse)

	for name, v := range map[string]any{
		"*ChainableProvider":        p,
		"*ChainableProvider pooled": pooled,
		"*Pool":                     pool,
		"PoolOptions":               poolOpts,
		"Options":                   opts,
		"*Options":                  &opts,
		"CacheEntry":                entry,
		"*CacheEntry":               &entry,
		"*Error":                    linkErr,
		"Error":                     *linkErr,
		"*Error keeping a secret":   keptErr,
		"Error keeping a secret":    *keptErr,
		"RefreshEvent":              event,
		"*CodeGuard":                &guard,
		"*FileCache":                fc,
		"error of FileCache.Load":   loadErr,
	} {
		t.Run(name, func(t *testing.T) {
			secrettest.AssertHidden(t, v, secret, token, code, externalID, seed,
				creds.SecretAccessKey, creds.SessionToken, pooledCreds.SecretAccessKey, pooledCreds.SessionToken)
		})
	}

	// What the JSON of a cache entry does show.
	entry.AssumedRoleUser = &types.AssumedRoleUser{Arn: aws.String(roleA + "/s"), AssumedRoleId: aws.String("AROAEXAMPLE:s")}
	data, err := json.Marshal(entry)
	require.NoError(t, err)
	assert.JSONEq(t, `{"AccessKeyID":"`+creds.AccessKeyID+`","Expires":"`+creds.Expires.UTC().Format(time.RFC3339Nano)+`","AssumedRoleArn":"`+roleA+`/s"}`, string(data))

	// And of an error and an event: the message.
	data, err = json.Marshal(keptErr)
	require.NoError(t, err)
	assert.JSONEq(t, `"stschain: `+roleB+`: master credentials: unreadable answer"`, string(data))
	data, err = json.Marshal(event)
	require.NoError(t, err)
	var ev map[string]any
	require.NoError(t, json.Unmarshal(data, &ev))
	assert.Equal(t, keptErr.Error(), ev["Err"])
	assert.Equal(t, string(RefreshFailed), ev["Outcome"])
}

// answerError keeps the answer it could not read, secrets and all.
type answerError struct{ Body string }

func (*answerError) Error() string { return "unreadable answer" }

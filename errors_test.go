package stschain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChainErrorShowsPathToFailingLink(t *testing.T) {
	fb := newFakeSTS("B", time.Hour)
	fb.failNext(apiError("AccessDenied", "User is not authorized"))
	b := newFake(t, fb, staticMaster("alice"), withRole(roleB))
	fa := newFakeSTS("A", time.Hour)
	a := newFake(t, fa, b, withRole(roleA))

	_, err := a.Retrieve(context.Background())
	require.Error(t, err)
	assert.Equal(t, "stschain: "+roleA+" -> "+roleB+": AssumeRole: api error AccessDenied: User is not authorized", err.Error())
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "AccessDenied", ae.ErrorCode())
	var le *Error
	require.ErrorAs(t, err, &le)
	assert.Equal(t, roleA, le.Link)
	assert.Zero(t, fa.count(), "A is not called without master credentials")
}

// secretValues are the secrets the formatting and redaction tests plant.
var secretValues = []string{"SUPERSECRETKEY", "SESSIONTOKENVALUE", "EXTERNALIDVALUE", "TOKENSECRETVALUE", "654321"}

func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range secretValues {
		assert.NotContains(t, s, secret, "%s shows a secret", what)
	}
}

// allVerbs are the fmt verbs tried on every exported type. %p is tried on
// pointers only: on a struct value it is a misuse that go vet reports, and
// fmt then prints the fields without asking the type's own methods.
var allVerbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%o", "%b", "%e", "%f", "%g", "%c", "%U", "%T", "%10.3v"}

// No verb applied to any exported type, value or pointer, shows a secret.
func TestNoVerbShowsASecret(t *testing.T) {
	master := credentials.NewStaticCredentialsProvider("AKIAalice", "SUPERSECRETKEY", "SESSIONTOKENVALUE")
	opts := Options{
		RoleARN: roleA, ExternalID: "EXTERNALIDVALUE", MasterCredentials: master,
		SerialNumber: "arn:aws:iam::123456789012:mfa/alice", CodeGuard: new(CodeGuard),
		TokenCode: func(context.Context, string) (string, error) { return "654321", nil },
		Client:    newFakeSTS("A", 0),
	}
	p, err := New(aws.Config{Credentials: master}, func(o *Options) { *o = opts })
	require.NoError(t, err)
	f := p.impl.Load().link.cfg.client.(*fakeSTS)
	f.mangle = func(c *types.Credentials) *types.Credentials {
		c.SecretAccessKey, c.SessionToken = aws.String("SUPERSECRETKEY"), aws.String("SESSIONTOKENVALUE")
		return c
	}
	_, err = p.Retrieve(context.Background()) // the provider holds secrets now, and the guard a code
	require.NoError(t, err)
	entry := CacheEntry{Credentials: aws.Credentials{AccessKeyID: "ASIAX", SecretAccessKey: "SUPERSECRETKEY", SessionToken: "SESSIONTOKENVALUE"}}
	linkErr := &Error{Link: roleA, Op: OpMaster, Err: fmt.Errorf(`parse failed of process output: {"SecretAccessKey": "SUPERSECRETKEY", "SessionToken": "SESSIONTOKENVALUE"`)}
	ev := RefreshEvent{Link: roleA, Outcome: RefreshFailedKept, Err: linkErr}
	fc, err := NewFileCache(t.TempDir())
	require.NoError(t, err)

	values := map[string]any{
		"*ChainableProvider": p,
		"ChainableProvider":  reflect.ValueOf(p).Elem().Interface(), // what fmt.Sprint(*p) prints
		"Options":            opts, "*Options": &opts,
		"CacheEntry": entry, "*CacheEntry": &entry,
		"*Error": linkErr, "Error": *linkErr,
		"RefreshEvent": ev, "*RefreshEvent": &ev,
		"*CodeGuard": opts.CodeGuard,
		"*FileCache": fc,
	}
	for name, v := range values {
		for _, verb := range allVerbs {
			assertNoSecret(t, name+" "+verb, fmt.Sprintf(verb, v))
		}
		if reflect.TypeOf(v).Kind() == reflect.Pointer {
			assertNoSecret(t, name+" %p", fmt.Sprintf("%p", v))
		}
		assertNoSecret(t, name+" in a struct", fmt.Sprintf("%+v", struct{ V any }{v}))
	}
	assert.Contains(t, fmt.Sprint(p), roleA)
	assert.Contains(t, fmt.Sprintf("%d", opts), roleA, "every verb prints the description")
}

// A cause's text may hold a secret, whoever wrote it: a source
// credential_process that prints bad JSON makes the SDK quote it.
func TestErrorsAndLogsRedactSecrets(t *testing.T) {
	quoted := `parse failed of process output: {"Version": 1, "AccessKeyId": "AKIAX", "SecretAccessKey": "SUPERSECRETKEY", "SessionToken": "SESSIONTOKENVALUE", "Expiration": "bad` +
		`, error: invalid character; AWS_SECRET_ACCESS_KEY=TOKENSECRETVALUE`
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	p := newFake(t, newFakeSTS("A", 0), errProvider{errors.New(quoted)}, withRole(roleA), func(o *Options) { o.Logger = logger })
	_, err := p.Retrieve(context.Background())
	require.Error(t, err)
	assertNoSecret(t, "the error", err.Error())
	assertNoSecret(t, "the log", logs.String())
	assert.Contains(t, err.Error(), `"SecretAccessKey": "[redacted]"`)
	assert.Contains(t, err.Error(), "AKIAX", "what is no secret stays, so the error still says what went wrong")

	// A secret the link holds is redacted wherever it appears.
	f := newFakeSTS("A", 0)
	f.failNext(apiError("InvalidClientTokenId", "the key SUPERSECRETKEY is not valid"))
	p = newFake(t, f, credentials.NewStaticCredentialsProvider("AKIAalice", "SUPERSECRETKEY", ""), withRole(roleA))
	_, err = p.Retrieve(context.Background())
	require.Error(t, err)
	assertNoSecret(t, "the error", err.Error())
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae, "redaction keeps the cause reachable")
}

// The prefix once, at the outside; the link and the operation once each.
func TestErrorsSayEachThingOnce(t *testing.T) {
	session := credentials.NewStaticCredentialsProvider("ASIAalice", "s", "session-token")
	gst := newFake(t, newFakeSTS("S", 0), session)
	_, err := gst.Retrieve(context.Background())
	require.ErrorIs(t, err, ErrLongTermCredentialsRequired)
	assert.Equal(t, "stschain: GetSessionToken: master credentials: long-term IAM user credentials required: the master returned session credentials", err.Error())

	// One of the package's own TokenCodeFuncs, whose errors stand alone
	// too, fails inside a link.
	mfa := newFake(t, newFakeSTS("A", 0), staticMaster("alice"), withRole(roleA), func(o *Options) {
		o.SerialNumber, o.TokenCode = mfaARN, ProcessTokenCode("exit 3")
	})
	_, err = mfa.Retrieve(context.Background())
	require.Error(t, err)
	msg := err.Error()
	assert.Equal(t, "stschain: "+roleA+": MFA token code: running the MFA process for "+mfaARN+": exit status 3", msg)

	// An error of the package that names no device is wrapped with the
	// device inside the link's: the prefix still comes once.
	noCommand := newFake(t, newFakeSTS("A", 0), staticMaster("alice"), withRole(roleA), func(o *Options) {
		o.SerialNumber, o.TokenCode = mfaARN, ProcessTokenCode(" ")
	})
	_, err = noCommand.Retrieve(context.Background())
	require.Error(t, err)
	assert.Equal(t, "stschain: "+roleA+": MFA token code: device "+mfaARN+": the MFA process command is empty", err.Error())

	_, err = New(aws.Config{}, withRole(roleA))
	assert.Equal(t, 1, strings.Count(err.Error(), "stschain"), err.Error())
	assert.ErrorIs(t, err, ErrNoMasterCredentials)

	_, err = NewChain(aws.Config{Credentials: staticMaster("alice")}, Options{RoleARN: roleB}, Options{RoleARN: "not-an-arn"})
	assert.True(t, strings.HasPrefix(err.Error(), `stschain: NewChain link 2 ("not-an-arn"): invalid options: RoleARN`), err.Error())
	assert.Equal(t, 1, strings.Count(err.Error(), "stschain"), err.Error())
	assert.ErrorIs(t, err, ErrInvalidOptions)

	// A FileCache error, which stands alone with the prefix, is logged by
	// the link that met it without it.
	var logs strings.Builder
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	fc, err := NewFileCache(dir)
	require.NoError(t, err)
	cached := newFake(t, newFakeSTS("A", 0), staticMaster("alice"), withRole(roleA), withCache(fc), func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	key := cached.impl.Load().link.cacheKey
	require.NoError(t, os.WriteFile(filepath.Join(dir, key+".json"), []byte("{"), 0o600))
	_, _, loadErr := fc.Load(context.Background(), key)
	_, err = cached.Retrieve(context.Background())
	require.NoError(t, err)
	require.Error(t, loadErr)
	assert.True(t, strings.HasPrefix(loadErr.Error(), "stschain: cache entry "), loadErr.Error())
	assert.Contains(t, logs.String(), `error="cache entry `)
	assert.Equal(t, 1, strings.Count(strings.SplitN(logs.String(), "\n", 2)[0], "stschain: "), logs.String())
}

// ErrInvalidOptions is wrapped by every refusal of New.
func TestEveryRefusalOfNewWrapsErrInvalidOptions(t *testing.T) {
	for name, opts := range map[string][]func(*Options){
		"TokenCode missing alone": {withRole(roleA), func(o *Options) { o.SerialNumber = mfaARN; o.MasterCredentials = staticMaster("a") }},
		"no master":               {withRole(roleA)},
		"Cache on a GetSessionToken link without master": {func(o *Options) { o.Client = newFakeSTS("S", 0); o.Cache = newMemCache() }},
		"bad role": {withRole("x"), func(o *Options) { o.MasterCredentials = staticMaster("a") }},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(aws.Config{}, opts...)
			require.ErrorIs(t, err, ErrInvalidOptions)
			assert.True(t, strings.HasPrefix(err.Error(), "stschain: invalid options: "), err.Error())
		})
	}
	_, err := New(aws.Config{}, withRole(roleA), func(o *Options) { o.SerialNumber = mfaARN; o.MasterCredentials = staticMaster("a") })
	assert.ErrorIs(t, err, ErrTokenCodeRequired)
	_, err = New(aws.Config{}, withRole(roleA))
	assert.ErrorIs(t, err, ErrNoMasterCredentials)
}

func TestNoSecretInFormattedValues(t *testing.T) {
	master := credentials.NewStaticCredentialsProvider("AKIAalice", "SUPERSECRETKEY", "SESSIONTOKEN")
	opts := Options{RoleARN: roleA, MasterCredentials: master, SerialNumber: "arn:aws:iam::123456789012:mfa/alice",
		TokenCode: func(context.Context, string) (string, error) { return "123456", nil }}
	p, err := New(aws.Config{Credentials: master}, func(o *Options) { *o = opts })
	require.NoError(t, err)
	_, err = New(aws.Config{Credentials: master}, func(o *Options) { *o = opts; o.RoleARN = "SUPERSECRETKEY" })
	require.Error(t, err)
	for _, s := range []string{
		fmt.Sprintf("%v", p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", p), fmt.Sprint(p),
		fmt.Sprintf("%v", opts), fmt.Sprintf("%+v", opts), fmt.Sprintf("%#v", opts), fmt.Sprintf("%v", &opts),
		err.Error(),
	} {
		assert.NotContains(t, s, "SESSIONTOKEN")
		if !strings.Contains(s, "RoleARN") { // the bad RoleARN is echoed, as it should be
			assert.NotContains(t, s, "SUPERSECRETKEY")
		}
	}
	assert.Contains(t, fmt.Sprintf("%v", p), roleA)
}

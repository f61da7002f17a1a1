package stschain

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"
)

// fakeSTS is a hand-written STSClient. It issues credentials that live for
// lifetime, records every input with the access key that signed it, and can
// fail or block calls.
type fakeSTS struct {
	name     string        // prefix of issued access keys
	lifetime time.Duration // of issued credentials; default one hour

	mu       sync.Mutex
	latency  time.Duration                               // each call takes this long (in a synctest bubble, fake time)
	mangle   func(*types.Credentials) *types.Credentials // when set, rewrites each issued answer
	calls    []fakeCall
	inFlight int           // calls under way
	peak     int           // the most calls under way at once
	failures []error       // returned, in order, by the next calls
	block    chan struct{} // when not nil, calls wait for it to be closed
	started  chan struct{} // when not nil, receives once per call as it starts
	inspect  func(any)     // input-inspection hook, called with each input
}

type fakeCall struct {
	action   string
	input    any
	signedBy string // access key ID of the signing credentials; "" if none
	issued   string // access key ID issued; "" on failure
}

func newFakeSTS(name string, lifetime time.Duration) *fakeSTS {
	return &fakeSTS{name: name, lifetime: lifetime}
}

// hang makes calls wait until release is called.
func (f *fakeSTS) hang() (release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	block := make(chan struct{})
	f.block = block
	return func() { close(block) }
}

// failNext makes the next len(errs) calls fail with errs, in order.
func (f *fakeSTS) failNext(errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, errs...)
}

func (f *fakeSTS) Calls() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

// maxInFlight returns the most calls that were under way at once.
func (f *fakeSTS) maxInFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.peak
}

func (f *fakeSTS) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeSTS) do(ctx context.Context, action string, in any, optFns []func(*sts.Options)) (*types.Credentials, error) {
	var o sts.Options
	for _, fn := range optFns {
		fn(&o)
	}
	var signer string
	if o.Credentials != nil {
		c, err := o.Credentials.Retrieve(ctx)
		if err != nil {
			return nil, err
		}
		signer = c.AccessKeyID
	}
	f.mu.Lock()
	if f.inspect != nil {
		f.inspect(in)
	}
	block, started, latency := f.block, f.started, f.latency
	var failure error // taken as the call starts, so calls fail in the order they were made
	if len(f.failures) > 0 {
		failure, f.failures = f.failures[0], f.failures[1:]
	}
	f.mu.Unlock()
	f.mu.Lock()
	f.inFlight++
	f.peak = max(f.peak, f.inFlight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if started != nil {
		started <- struct{}{}
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	call := fakeCall{action: action, input: in, signedBy: signer}
	if failure != nil {
		f.calls = append(f.calls, call)
		return nil, failure
	}
	lifetime := f.lifetime
	if lifetime == 0 {
		lifetime = time.Hour
	}
	call.issued = issuedKey(f.name, len(f.calls)+1)
	f.calls = append(f.calls, call)
	c := &types.Credentials{
		AccessKeyId:     aws.String(call.issued),
		SecretAccessKey: aws.String(fakeSecretPrefix + call.issued),
		SessionToken:    aws.String(fakeTokenPrefix + call.issued),
		Expiration:      aws.Time(time.Now().Add(lifetime)),
	}
	if f.mangle != nil {
		c = f.mangle(c)
	}
	return c, nil
}

// issuedKey is the access key ID a fakeSTS named name issues on its nth
// call, of the shape STS's have: ASIA, the name and the number, 16
// characters in all.
func issuedKey(name string, n int) string { return fmt.Sprintf("ASIA%s%0*d", name, 12-len(name), n) }

// A fakeSTS's secret keys and session tokens are these and the access key
// ID, in the base64 alphabet as STS's are.
const (
	fakeSecretPrefix = "secret/"
	fakeTokenPrefix  = "token/"
)

func (f *fakeSTS) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	c, err := f.do(ctx, "AssumeRole", in, optFns)
	if err != nil {
		return nil, err
	}
	arn := aws.ToString(in.RoleArn)
	roleName := arn[len("arn:aws:iam::123456789012:role/"):]
	return &sts.AssumeRoleOutput{
		Credentials: c,
		AssumedRoleUser: &types.AssumedRoleUser{
			Arn:           aws.String("arn:aws:sts::123456789012:assumed-role/" + roleName + "/" + aws.ToString(in.RoleSessionName)),
			AssumedRoleId: aws.String("AROAEXAMPLE:" + aws.ToString(in.RoleSessionName)),
		},
	}, nil
}

func (f *fakeSTS) GetSessionToken(ctx context.Context, in *sts.GetSessionTokenInput, optFns ...func(*sts.Options)) (*sts.GetSessionTokenOutput, error) {
	c, err := f.do(ctx, "GetSessionToken", in, optFns)
	if err != nil {
		return nil, err
	}
	return &sts.GetSessionTokenOutput{Credentials: c}, nil
}

// apiError is an STS error as the SDK returns it.
func apiError(code, msg string) error {
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: smithy.FaultClient}
}

// staticMaster returns long-term credentials for name.
func staticMaster(name string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("AKIA"+name, "secret-of-"+name, "")
}

// countingProvider counts Retrieve calls and can be invalidated.
type countingProvider struct {
	mu          sync.Mutex
	creds       aws.Credentials
	retrieves   int
	invalidated int
	next        []aws.Credentials // handed out after each Invalidate
}

func (c *countingProvider) Retrieve(context.Context) (aws.Credentials, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.retrieves++
	return c.creds, nil
}

func (c *countingProvider) Invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.invalidated++
	if len(c.next) > 0 {
		c.creds, c.next = c.next[0], c.next[1:]
	}
}

// errProvider always fails.
type errProvider struct{ err error }

func (e errProvider) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, e.err
}

var serialSeq atomic.Int64

// uniqueSerial returns an MFA device serial that no other test, or run of
// this one, uses: for tests of the process's CodeGuard, which remembers the
// codes sent for a device for about 90 seconds.
func uniqueSerial(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, t.Name())
	return fmt.Sprintf("arn:aws:iam::123456789012:mfa/%s-%d", name, serialSeq.Add(1))
}

const (
	roleA = "arn:aws:iam::123456789012:role/A"
	roleB = "arn:aws:iam::123456789012:role/B"
)

// newFake returns a provider for client with fixed windows (no jitter, no
// prefetch) unless opts change them.
func newFake(t *testing.T, client STSClient, master aws.CredentialsProvider, opts ...func(*Options)) *ChainableProvider {
	t.Helper()
	all := append([]func(*Options){func(o *Options) {
		o.Client = client
		o.MasterCredentials = master
		o.DisableJitter = true
		o.PrefetchWindow = -1
	}}, opts...)
	p, err := New(aws.Config{}, all...)
	require.NoError(t, err)
	return p
}

func withRole(arn string) func(*Options) { return func(o *Options) { o.RoleARN = arn } }

const mfaARN = "arn:aws:iam::123456789012:mfa/alice"

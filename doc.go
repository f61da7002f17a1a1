// Package stschain provides chainable temporary credentials from AWS STS for
// aws-sdk-go-v2.
//
// A [ChainableProvider] is an [aws.CredentialsProvider] that wraps master
// credentials and an STS client built once by [New]. It calls AssumeRole
// when [Options.RoleARN] is set and GetSessionToken otherwise, in the manner
// of the JavaScript SDK's AWS.ChainableTemporaryCredentials:
//
//	p, err := stschain.New(cfg, func(o *stschain.Options) {
//		o.RoleARN = "arn:aws:iam::123456789012:role/deploy"
//	})
//	if err != nil { ... }
//	cfg.Credentials = p
//
// Chains users already keep in ~/.aws/config are built by package
// [github.com/stschain/stschain/awsprofile], every role of them a
// ChainableProvider.
//
// # Chaining
//
// Every refresh retrieves the master credentials afresh and signs the STS
// call with them, so a master that is itself a ChainableProvider refreshes
// itself when, and only when, its own credentials are due. Providers nest to
// any depth (RoleA assumed from RoleB assumed from a user), built one by one
// with [Options.MasterCredentials] or at once with [NewChain], and each link
// keeps its own schedule.
//
// # Refresh
//
// Retrieve returns cached credentials without locking or allocating. From
// [Options.PrefetchWindow] before expiry (by default chosen from each
// session's lifetime, as the AWS SDKs' 2026 refresh rules choose it: 5, 15
// or 60 minutes) a background refresh replaces them while callers keep
// getting them at once; it starts at that point even when nobody calls
// Retrieve then, for credentials that were handed out, so that callers
// behind another cache never wait either (config.WithCredentialsProvider
// wraps the provider in an aws.CredentialsCache, which asks again only at
// expiry). Inside [Options.ExpiryWindow] (default 1 minute) callers wait
// for one shared STS call. Each attempt has a deadline well inside its
// window. When a refresh fails while the credentials have not yet
// expired, callers keep them and the next attempt waits (5 to 10 minutes,
// never past the expiry window); only expired credentials turn a failure
// into an error, and then attempts back off while callers in the pause get
// the failure at once. Expiries are read on the host's clock, corrected by
// the skew each STS answer's Date header shows. Refresh points are
// jittered and first refreshes spread over the first session, so that a
// fleet does not call STS at the same moment, and the windows shrink for
// sessions too short for them.
//
// When STS rejects the master's credentials (ExpiredToken,
// InvalidClientTokenId) and the master can be invalidated (a
// ChainableProvider, or an [aws.CredentialsCache] around a provider that
// fetches anew), the master is invalidated and the call retried once, if the
// master then hands out different credentials. When STS refuses a Duration
// over one hour for role chaining, the provider asks for one hour instead.
// An STS answer without keys, token or a future expiry, with credentials
// of another shape than STS's, expiring later than STS grants or longer
// than STS's answers is an error wrapping [ErrMalformedResponse]. The STS
// client New builds sends nothing over plain http to a host that is not
// loopback.
//
// # MFA
//
// With [Options.SerialNumber] set, [Options.TokenCode] is called before each
// STS call. [PromptTokenCode] asks on the terminal (never on stdout, and
// again after a mistyped code), [TOTPTokenCode] computes codes from a
// secret, and [ProcessTokenCode] runs a command (a hardware key, a password
// manager). A code STS refuses is asked for again, up to three codes. A
// [CodeGuard] makes sure no code is sent twice while STS would refuse it:
// providers share the process's unless [Options.CodeGuard] names another.
//
// To be asked once a day rather than once an hour, put MFA on a
// GetSessionToken link with a long Duration and assume roles from it without
// SerialNumber: the session carries the MFA context, which roles that
// require MFA accept.
//
// # Caching
//
// [Options.Cache] shares credentials across providers and processes.
// [FileCache] keeps them in files in the AWS CLI's format and under its keys,
// so a session the CLI cached in ~/.aws/cli/cache is reused by Go programs
// and the other way round, and a lock per key makes one of many processes
// call STS while the others wait for its result. It trusts only files the
// user could have written. Package
// [github.com/stschain/stschain/rediscache] shares sessions across a fleet,
// encrypted. A cache that fails (a read-only directory, Redis down) costs
// the refresh its cache, logged, and nothing else.
//
// # Pools
//
// A service that assumes a role in each of thousands of accounts through one
// hub role keeps a [Pool]: one STS client, one refresh budget
// ([PoolOptions.MaxConcurrentRefreshes], [PoolOptions.MaxCallsPerSecond]),
// a pause of every refresh when STS throttles, first refreshes spread over
// the first session once the cold start is over, and providers dropped
// when nobody asks for them.
//
// # Metrics
//
// [Options.MeterProvider] and [PoolOptions.MeterProvider] take a
// [github.com/aws/smithy-go/metrics.MeterProvider], the interface the
// SDK's clients report through (OpenTelemetry plugs in with
// smithyotelmetrics.Adapt). Refreshes are counted in [MetricRefreshes] and
// timed in [MetricRefreshDuration], by link and [RefreshOutcome];
// [MetricCredentialsRemaining] is a gauge of the seconds left to each
// link's credentials. A cached Retrieve records nothing.
// [Options.TracerProvider] gets a span for each refresh.
//
// # Errors
//
// An error says "stschain: " once, then the path down to the failing link,
// the operation and the cause, as in "stschain: ROLE_A -> ROLE_B:
// AssumeRole: ...". The prefix comes once however the package's errors
// nest (an MFA function's inside a link's, a link's refusal inside
// NewChain's), and a log line carries it in its message only. An error
// wraps its cause, so [errors.As] finds a [smithy.APIError] and
// [errors.Is] a caller's context.Canceled. Secrets
// are kept out of errors, log lines and every fmt verb of this package's
// types, whoever wrote the text.
//
// # Testing
//
// Package [github.com/stschain/stschain/ststest] runs a fake STS endpoint
// that the real SDK client talks to, with signature checking, trust
// policies, MFA, web identity, expiry and injected faults, over loopback or
// in memory (inside a testing/synctest bubble).
package stschain

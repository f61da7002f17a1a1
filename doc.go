// Package stschain provides chainable temporary credentials from AWS STS for
// aws-sdk-go-v2.
//
// A [ChainableProvider] is an [aws.CredentialsProvider] that wraps master
// credentials and an STS client built once by [New]. It calls AssumeRole
// when [Options.RoleARN] is set and GetSessionToken otherwise, in the manner
// of the JavaScript SDK's AWS.ChainableTemporaryCredentials:
//
//	cfg, _ := config.LoadDefaultConfig(ctx)
//	p, err := stschain.New(cfg, func(o *stschain.Options) {
//		o.RoleARN = "arn:aws:iam::123456789012:role/deploy"
//	})
//	if err != nil { ... }
//	cfg.Credentials = p
//
// # Chaining
//
// Every refresh retrieves the master credentials afresh and signs the STS
// call with them, so a master that is itself a ChainableProvider refreshes
// itself when, and only when, its own credentials are due. Providers nest to
// any depth (RoleA assumed from RoleB assumed from a user) and each link
// keeps its own schedule. An error names the path down to the failing link,
// as "stschain: ROLE_A -> ROLE_B: AssumeRole: ...", and wraps the SDK's
// error, so [errors.As] finds a [smithy.APIError].
//
// # Refresh
//
// Retrieve returns cached credentials without locking or allocating. Inside
// [Options.PrefetchWindow] (default 5 minutes before expiry) it still returns
// them at once and starts one background refresh. Inside
// [Options.ExpiryWindow] (default 1 minute) callers wait for one shared STS
// call. When a refresh fails while the credentials have not yet expired,
// callers keep them and attempts back off; only expired credentials turn a
// failure into an error. Refresh points are jittered so that a fleet does
// not call STS at the same moment, and the windows shrink for sessions too
// short for them.
//
// When STS rejects the master's credentials (ExpiredToken,
// InvalidClientTokenId) and the master can be invalidated (a
// ChainableProvider, or an [aws.CredentialsCache] around a provider that
// fetches anew), the master is invalidated and the call retried once, if the
// master then hands out different credentials. An aws.CredentialsCache
// wrapped around a ChainableProvider does not pass Invalidate on: use the
// ChainableProvider itself as the master. When STS refuses a Duration over
// one hour for role chaining, the provider asks for one hour instead.
//
// # MFA
//
// With [Options.SerialNumber] set, [Options.TokenCode] is called before each
// STS call. [PromptTokenCode] asks on the terminal (never on stdout) and
// [TOTPTokenCode] computes codes from a secret. A code is never sent twice
// for one device within its time step, since STS refuses reused codes.
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
// call STS while the others wait for its result.
//
// # Testing
//
// Package [github.com/stschain/stschain/ststest] runs a fake STS endpoint
// in-process that the real SDK client talks to, with signature checking,
// trust policies, MFA, expiry and injected faults.
package stschain

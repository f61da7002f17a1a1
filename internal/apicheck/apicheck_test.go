package apicheck_test

import (
	"context"
	"go/parser"
	"go/token"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/metrics"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/credserver"
	"github.com/stschain/stschain/rediscache"
	"github.com/stschain/stschain/sharedcache"
	"github.com/stschain/stschain/ststest"
)

// Each declaration below compiles only while a fixed name exists with the
// type its issue gave it. A function or method is assigned to the func
// type of its fixed signature (a method through its method expression),
// which must be identical; a struct field's address is assigned to a
// pointer to its fixed type, which pins the type exactly; a variable's
// address pins it as a variable of its type.

// Values whose fields are addressed below.
var (
	opts        stschain.Options
	poolOpts    stschain.PoolOptions
	profileOpts awsprofile.Options
	redisOpts   rediscache.Options
	stsConfig   ststest.Config
	stsUser     ststest.User
	stsRole     ststest.Role
	stsCall     ststest.Call
	stsServer   ststest.Server
)

// Issue 2: New, ChainableProvider's methods, Options, STSClient,
// TokenCodeFunc and ErrTokenCodeRequired.
var (
	_ func(aws.Config, ...func(*stschain.Options)) (*stschain.ChainableProvider, error) = stschain.New

	_ func(*stschain.ChainableProvider, context.Context) (aws.Credentials, error) = (*stschain.ChainableProvider).Retrieve
	_ func(*stschain.ChainableProvider, context.Context) (aws.Credentials, error) = (*stschain.ChainableProvider).Refresh
	_ func(*stschain.ChainableProvider)                                           = (*stschain.ChainableProvider).Invalidate
	_ func(*stschain.ChainableProvider) stschain.STSClient                        = (*stschain.ChainableProvider).Client
	_ aws.CredentialsProvider                                                     = (*stschain.ChainableProvider)(nil)

	_ *error = &stschain.ErrTokenCodeRequired

	// TokenCodeFunc is a func type with exactly this signature.
	_ func(ctx context.Context, serialNumber string) (string, error) = stschain.TokenCodeFunc(nil)

	// STSClient has exactly these two methods, which *sts.Client has.
	_ func(stschain.STSClient, context.Context, *sts.AssumeRoleInput, ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)           = stschain.STSClient.AssumeRole
	_ func(stschain.STSClient, context.Context, *sts.GetSessionTokenInput, ...func(*sts.Options)) (*sts.GetSessionTokenOutput, error) = stschain.STSClient.GetSessionToken
	_ stschain.STSClient                                                                                                              = (*sts.Client)(nil)
	_ stschain.STSClient                                                                                                              = twoMethodSTSClient{}

	_ *string                  = &opts.RoleARN
	_ *string                  = &opts.RoleSessionName
	_ *time.Duration           = &opts.Duration
	_ *string                  = &opts.ExternalID
	_ *string                  = &opts.Policy
	_ *[]string                = &opts.PolicyARNs
	_ *map[string]string       = &opts.Tags
	_ *[]string                = &opts.TransitiveTagKeys
	_ *string                  = &opts.SourceIdentity
	_ *string                  = &opts.SerialNumber
	_ *stschain.TokenCodeFunc  = &opts.TokenCode
	_ *aws.CredentialsProvider = &opts.MasterCredentials
	_ *time.Duration           = &opts.ExpiryWindow
	_ *stschain.STSClient      = &opts.Client
	_ *[]func(*sts.Options)    = &opts.STSOptions
)

// twoMethodSTSClient implements only the methods issue 2 gave STSClient: a
// method added to the interface would break every such fake users wrote.
type twoMethodSTSClient struct{}

func (twoMethodSTSClient) AssumeRole(context.Context, *sts.AssumeRoleInput, ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	return nil, nil
}

func (twoMethodSTSClient) GetSessionToken(context.Context, *sts.GetSessionTokenInput, ...func(*sts.Options)) (*sts.GetSessionTokenOutput, error) {
	return nil, nil
}

// Issue 3: ststest's Config, User, Role, Call and Server.
var (
	_ *string                              = &stsConfig.AccountID
	_ *[]ststest.User                      = &stsConfig.Users
	_ *[]ststest.Role                      = &stsConfig.Roles
	_ *time.Duration                       = &stsConfig.SessionTokenLifetime
	_ *string                              = &stsUser.Name
	_ *string                              = &stsUser.AccessKeyID
	_ *string                              = &stsUser.SecretAccessKey
	_ *string                              = &stsUser.MFASerial
	_ *[]string                            = &stsUser.MFACodes
	_ *string                              = &stsUser.TOTPSecret
	_ *string                              = &stsRole.ARN
	_ *[]string                            = &stsRole.Trust
	_ *bool                                = &stsRole.RequireMFA
	_ *string                              = &stsRole.ExternalID
	_ *time.Duration                       = &stsRole.MaxSessionDuration
	_ *time.Duration                       = &stsRole.Lifetime
	_ *string                              = &stsCall.Action
	_ *string                              = &stsCall.CallerARN
	_ *string                              = &stsCall.CallerAccessKeyID
	_ *string                              = &stsCall.RoleARN
	_ *string                              = &stsCall.RoleSessionName
	_ *string                              = &stsCall.SerialNumber
	_ *string                              = &stsCall.TokenCode
	_ *int                                 = &stsCall.DurationSeconds
	_ *int                                 = &stsCall.Status
	_ *string                              = &stsCall.ErrorCode
	_ *string                              = &stsCall.IssuedAccessKeyID
	_ *string                              = &stsServer.URL
	_ func(ststest.Config) *ststest.Server = ststest.NewServer

	_ func(*ststest.Server)                                 = (*ststest.Server).Close
	_ func(*ststest.Server, string) aws.CredentialsProvider = (*ststest.Server).UserCredentials
	_ func(*ststest.Server, string) aws.Config              = (*ststest.Server).AWSConfig
	_ func(*ststest.Server)                                 = (*ststest.Server).ResetCalls
	_ func(*ststest.Server, string, int, int, string)       = (*ststest.Server).FailNext
	_ func(*ststest.Server, time.Duration)                  = (*ststest.Server).SetLatency
	_ func(*ststest.Server, string)                         = (*ststest.Server).Revoke

	// Fixed as Calls() []Call; it has since taken optional patterns
	// (Calls(pattern ...Call)), so the fixed call still compiles.
	_ = func(s *ststest.Server) []ststest.Call { return s.Calls() }
)

// Issue 4 names two options with their types (not marked fixed).
var (
	_ *time.Duration = &opts.PrefetchWindow
	_ **slog.Logger  = &opts.Logger
)

// Issue 5: the MFA helpers, Options.Cache and FileCache.
var (
	_ func(ctx context.Context, serialNumber string) (string, error) = stschain.PromptTokenCode
	_ stschain.TokenCodeFunc                                         = stschain.PromptTokenCode
	_ func(base32Secret string) (stschain.TokenCodeFunc, error)      = stschain.TOTPTokenCode
	_ *stschain.Cache                                                = &opts.Cache
	_ func(dir string) (*stschain.FileCache, error)                  = stschain.NewFileCache
	_ stschain.Cache                                                 = (*stschain.FileCache)(nil)
)

// Issue 8: NewChain, awsprofile.LoadConfig and awsprofile.Options.
var (
	_ func(aws.Config, ...stschain.Options) (*stschain.ChainableProvider, error)      = stschain.NewChain
	_ func(context.Context, string, ...func(*awsprofile.Options)) (aws.Config, error) = awsprofile.LoadConfig
	_ *[]string                                                                       = &profileOpts.ConfigFiles
	_ *[]string                                                                       = &profileOpts.CredentialsFiles
	_ *stschain.TokenCodeFunc                                                         = &profileOpts.TokenCode
	_ *time.Duration                                                                  = &profileOpts.SessionDuration
	_ *stschain.Cache                                                                 = &profileOpts.Cache
	_ *[]func(*stschain.Options)                                                      = &profileOpts.LinkOptions
	_ *[]func(*config.LoadOptions) error                                              = &profileOpts.LoadOptions
)

// Issue 9: credserver's Start, Env and Close, and ProcessTokenCode.
var (
	// Fixed as Start(p) (*Server, error); it has since taken optional
	// option funcs (Start(p, optFns ...func(*Options))), so the fixed call
	// still compiles.
	_ = func(p aws.CredentialsProvider) (*credserver.Server, error) { return credserver.Start(p) }

	_ func(*credserver.Server) []string = (*credserver.Server).Env
	_ func(*credserver.Server) error    = (*credserver.Server).Close

	_ func(command string) stschain.TokenCodeFunc = stschain.ProcessTokenCode
)

// Issue 11: Pool, PoolOptions and rediscache.New.
var (
	_ func(aws.Config, ...func(*stschain.PoolOptions)) (*stschain.Pool, error)                                    = stschain.NewPool
	_ *[]func(*stschain.Options)                                                                                  = &poolOpts.Options
	_ *int                                                                                                        = &poolOpts.MaxConcurrentRefreshes
	_ *float64                                                                                                    = &poolOpts.MaxCallsPerSecond
	_ func(*stschain.Pool, ...func(*stschain.Options)) (*stschain.ChainableProvider, error)                       = (*stschain.Pool).Get
	_ func(rdb redis.UniversalClient, key []byte, optFns ...func(*rediscache.Options)) (*rediscache.Cache, error) = rediscache.New
	_ stschain.Cache                                                                                              = (*rediscache.Cache)(nil)
	_ stschain.CacheLocker                                                                                        = (*rediscache.Cache)(nil)
)

// Issue 12 asks by name for the SDK's optional cache interfaces: the SDK's
// credential cache finds them on the provider (not marked fixed).
var (
	_ aws.CredentialProviderSource                = (*stschain.ChainableProvider)(nil)
	_ aws.AdjustExpiresByCredentialsCacheStrategy = (*stschain.ChainableProvider)(nil)
)

// Issue 15: key rotation and the MeterProvider fields (instrument names in
// TestFixedInstrumentNames).
var (
	_ *[][]byte               = &redisOpts.PreviousKeys
	_ *metrics.MeterProvider  = &opts.MeterProvider
	_ *metrics.MeterProvider  = &poolOpts.MeterProvider
	_ *metrics.MeterProvider  = &redisOpts.MeterProvider
	_ stschain.RefreshOutcome = stschain.RefreshOK // the values of the "outcome" attribute
)

// Issue 16 names the sentinel for malformed STS answers (not marked fixed).
var _ *error = &stschain.ErrMalformedResponse

// Issue 17 fixes the command's surface (subcommands, flags, positional
// profiles), which lives in package main: the command's tests keep it.
//
// Issue 19 asked for the exported STS duration constants (MinDuration,
// MaxAssumeRoleDuration, MaxGetSessionTokenDuration,
// RoleChainingMaxDuration) and ststest.Server.AccountID to go; neither was
// a fixed name, and neither is referred to here.

// TestFixedInstrumentNames checks the instrument and attribute names issue
// 15 fixed, which are strings the compiler cannot check.
func TestFixedInstrumentNames(t *testing.T) {
	assert.Equal(t, "stschain.refreshes", stschain.MetricRefreshes)
	assert.Equal(t, "stschain.refresh.duration", stschain.MetricRefreshDuration)
	assert.Equal(t, "stschain.credentials.remaining", stschain.MetricCredentialsRemaining)
	// rediscache.lookups' "result" attribute.
	assert.Equal(t, "hit", sharedcache.LookupHit)
	assert.Equal(t, "miss", sharedcache.LookupMiss)
	assert.Equal(t, "error", sharedcache.LookupError)
}

// TestFixedCommandsExist checks that the commands issues 3 and 5 fixed,
// go run ./ststest/cmd/ststest and cmd/stschain, are still main packages
// where they were. It reads only their package clauses.
func TestFixedCommandsExist(t *testing.T) {
	for _, dir := range []string{"ststest/cmd/ststest", "cmd/stschain"} {
		t.Run(dir, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join("..", "..", filepath.FromSlash(dir), "*.go"))
			require.NoError(t, err)
			files = slices.DeleteFunc(files, func(name string) bool { return strings.HasSuffix(name, "_test.go") })
			require.NotEmpty(t, files, "no Go files in %s", dir)
			for _, name := range files {
				f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.PackageClauseOnly)
				require.NoError(t, err)
				assert.Equal(t, "main", f.Name.Name, "%s is a command", name)
			}
		})
	}
}

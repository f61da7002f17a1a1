package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/stschain/stschain"
)

// prefetchWindow is how long before expiry a cached session is replaced.
// It is botocore's: the AWS CLI refreshes assume-role sessions, and
// credential_process output, 15 minutes before they expire, so handing it
// a session with less left would make it run this command on every call.
const prefetchWindow = 15 * time.Minute

// chain is the provider of the last link and what the caller reports.
type chain struct {
	provider *stschain.ChainableProvider
	region   string // the region the STS calls use, "" for the default
}

// buildChain validates f and builds the chain it describes. Errors from
// the flags, the environment variable of --totp-secret-env, the file of
// --policy-file and stschain.NewChain are usage errors; opening the cache
// directory and loading the source configuration are not.
func buildChain(ctx context.Context, name string, f *chainFlags, stderr io.Writer, env func(string) string) (*chain, error) {
	if err := f.validate(name); err != nil {
		return nil, err
	}
	tokenCode, err := tokenCodeFunc(name, f, stderr, env)
	if err != nil {
		return nil, err
	}
	policy, err := readPolicyFile(name, f.policyFile)
	if err != nil {
		return nil, err
	}
	cache, err := openCache(f)
	if err != nil {
		return nil, err
	}
	cfg, err := loadSource(ctx, f)
	if err != nil {
		return nil, err
	}
	var logger *slog.Logger
	if f.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}

	links := linkOptions(f, policy)
	links[0].TokenCode = tokenCode
	for i := range links {
		links[i].Cache = cache
		links[i].Logger = logger
		links[i].PrefetchWindow = prefetchWindow
	}
	top, err := stschain.NewChain(cfg, links...)
	if err != nil {
		return nil, usagef("%s", oneLine(err))
	}
	return &chain{provider: top, region: f.region}, nil
}

// linkOptions lists the options of each link f describes, bottom first:
// the GetSessionToken link (with --session-duration, or alone without
// --role-arn), then the roles. The first link gets the MFA serial (the
// caller sets its TokenCode); the first role the session tags and source
// identity, which AWS carries up a role chain; the last role the external
// ID and the session policies (policy, the text of --policy-file), which
// scope the final session.
func linkOptions(f *chainFlags, policy string) []stschain.Options {
	var links []stschain.Options
	if f.sessionDuration != 0 || len(f.roleARNs) == 0 {
		links = append(links, stschain.Options{Duration: time.Duration(f.sessionDuration)})
	}
	for i, arn := range f.roleARNs {
		o := stschain.Options{
			RoleARN:         arn,
			RoleSessionName: f.sessionName,
			Duration:        time.Duration(f.duration),
		}
		if i == 0 {
			o.Tags = f.tags.m
			o.TransitiveTagKeys = f.transitiveTags
			o.SourceIdentity = f.sourceIdentity
		}
		if i == len(f.roleARNs)-1 {
			o.ExternalID = f.externalID
			o.PolicyARNs = f.policyARNs
			o.Policy = policy
		}
		links = append(links, o)
	}
	links[0].SerialNumber = f.mfaSerial
	return links
}

// maxPolicyFile bounds what --policy-file reads: STS takes 2048
// characters, and the library says so for anything up to this.
const maxPolicyFile = 64 << 10

// readPolicyFile returns the text of the --policy-file path, "" when path
// is empty. A file that cannot be read is a usage error.
func readPolicyFile(name, path string) (string, error) {
	if path == "" {
		return "", nil
	}
	file, err := os.Open(path)
	if err != nil {
		return "", usagef("stschain %s: --policy-file: %v", name, err)
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxPolicyFile+1))
	switch {
	case err != nil:
		return "", usagef("stschain %s: --policy-file: %v", name, err)
	case len(data) > maxPolicyFile:
		return "", usagef("stschain %s: --policy-file %s is over %d KiB: STS takes a policy of 2048 characters", name, path, maxPolicyFile>>10)
	}
	return string(data), nil
}

// openCache returns the session cache of --cache-dir (the AWS CLI's by
// default), or nil with --no-cache.
func openCache(f *chainFlags) (stschain.Cache, error) {
	if f.noCache {
		return nil, nil
	}
	dir := f.cacheDir
	if dir == "" {
		d, err := stschain.DefaultCLICacheDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	fc, err := stschain.NewFileCache(dir)
	if err != nil {
		return nil, err
	}
	return fc, nil
}

// loadSource returns the configuration the chain is built on: its
// Credentials are the chain's source credentials, the master of its first
// link; its region and retryer are those of the links' STS clients. Today
// the source is the SDK's: the shared config profile of --profile, else
// the SDK's default chain (which reads AWS_PROFILE). Everything the command
// does is built on what loadSource returns, so a source that is itself a
// chain (a profile's role_arn and source_profile) can take its place here
// alone.
func loadSource(ctx context.Context, f *chainFlags) (aws.Config, error) {
	var loadOpts []func(*config.LoadOptions) error
	if f.profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(f.profile))
	}
	if f.region != "" {
		loadOpts = append(loadOpts, config.WithRegion(f.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("stschain: loading the source credentials' configuration: %w", err)
	}
	if f.endpointURL != "" {
		// Only the links' STS clients are built from cfg from here on: the
		// source credentials were resolved with the profile's own endpoints.
		cfg.BaseEndpoint = aws.String(f.endpointURL)
	}
	return cfg, nil
}

// retrieve builds the chain of f and retrieves the last link's
// credentials. On failure it has reported the error on stderr and returns
// the exit status.
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

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"golang.org/x/term"

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
// the flags, the environment variable of --totp-secret-env and
// stschain.New are usage errors; opening the cache directory and loading
// the source configuration are not.
func buildChain(ctx context.Context, name string, f *chainFlags, stderr io.Writer, env func(string) string) (*chain, error) {
	if err := f.validate(name); err != nil {
		return nil, err
	}
	tokenCode, err := tokenCodeFunc(name, f, stderr, env)
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

	links := linkOptions(f)
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
// --role-arn), then the roles. The first link gets the MFA serial; the
// caller sets its TokenCode.
func linkOptions(f *chainFlags) []stschain.Options {
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
		if i == len(f.roleARNs)-1 {
			o.ExternalID = f.externalID
		}
		links = append(links, o)
	}
	links[0].SerialNumber = f.mfaSerial
	return links
}

// tokenCodeFunc returns what gives the MFA codes of --mfa-serial: a TOTP
// generator with --totp-secret-env, else the terminal prompt; nil without
// --mfa-serial.
func tokenCodeFunc(name string, f *chainFlags, stderr io.Writer, env func(string) string) (stschain.TokenCodeFunc, error) {
	switch {
	case f.mfaSerial == "":
		return nil, nil
	case f.totpSecretEnv == "":
		return promptTokenCode(stderr), nil
	}
	secret := env(f.totpSecretEnv)
	if secret == "" {
		return nil, usagef("stschain %s: environment variable %s of --totp-secret-env is empty or unset", name, f.totpSecretEnv)
	}
	fn, err := stschain.TOTPTokenCode(secret) // its errors never show the secret
	if err != nil {
		return nil, usagef("stschain %s: environment variable %s of --totp-secret-env: %s", name, f.totpSecretEnv, strings.TrimPrefix(err.Error(), "stschain: "))
	}
	return fn, nil
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

// promptTokenCode is stschain.PromptTokenCode, which prompts on standard
// error and reads the terminal. The AWS CLI captures the standard error of
// a credential_process and shows it only on failure, so when stderr is not
// a terminal the prompt is also written to the terminal itself.
func promptTokenCode(stderr io.Writer) stschain.TokenCodeFunc {
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return stschain.PromptTokenCode
	}
	return func(ctx context.Context, serial string) (string, error) {
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			fmt.Fprintf(tty, "stschain: MFA code for %s (type it and press Enter): ", serial)
			tty.Close()
		}
		return stschain.PromptTokenCode(ctx, serial)
	}
}

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
// stschain.New are usage errors; loading the source configuration is not.
func buildChain(ctx context.Context, name string, f *chainFlags, stderr io.Writer, env func(string) string) (*chain, error) {
	if err := f.validate(name); err != nil {
		return nil, err
	}

	var tokenCode stschain.TokenCodeFunc
	if f.mfaSerial != "" {
		tokenCode = promptTokenCode(stderr)
		if f.totpSecretEnv != "" {
			secret := env(f.totpSecretEnv)
			if secret == "" {
				return nil, usagef("stschain %s: environment variable %s of --totp-secret-env is empty or unset", name, f.totpSecretEnv)
			}
			fn, err := stschain.TOTPTokenCode(secret) // its errors never show the secret
			if err != nil {
				return nil, usagef("stschain %s: environment variable %s of --totp-secret-env: %s", name, f.totpSecretEnv, trimPrefix(err))
			}
			tokenCode = fn
		}
	}

	var cache stschain.Cache
	if !f.noCache {
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
		cache = fc
	}

	var logger *slog.Logger
	if f.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}

	var loadOpts []func(*config.LoadOptions) error
	if f.profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(f.profile))
	}
	if f.region != "" {
		loadOpts = append(loadOpts, config.WithRegion(f.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("stschain: loading the source credentials' configuration: %w", err)
	}
	if f.endpointURL != "" {
		// Only the links' STS clients are built from cfg from here on: the
		// source credentials were resolved with the profile's own endpoints.
		cfg.BaseEndpoint = aws.String(f.endpointURL)
	}

	// links lists each link's options, bottom first.
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
	if f.mfaSerial != "" {
		links[0].TokenCode = tokenCode
	}

	var prev *stschain.ChainableProvider
	for _, link := range links {
		p, err := stschain.New(cfg, func(o *stschain.Options) {
			*o = link
			if prev != nil {
				o.MasterCredentials = prev
			}
			o.Cache = cache
			o.Logger = logger
			o.PrefetchWindow = prefetchWindow
		})
		if err != nil {
			return nil, usagef("%s", oneLine(err))
		}
		prev = p
	}
	return &chain{provider: prev, region: f.region}, nil
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

// trimPrefix returns err's message without the library's "stschain: ".
func trimPrefix(err error) string {
	msg := err.Error()
	const p = "stschain: "
	if len(msg) > len(p) && msg[:len(p)] == p {
		return msg[len(p):]
	}
	return msg
}

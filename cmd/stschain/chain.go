package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/awsprofile"
)

// prefetchWindow is how long before expiry a cached session is replaced.
// It is botocore's: the AWS CLI refreshes assume-role sessions, and
// credential_process output, 15 minutes before they expire, so handing it
// a session with less left would make it run this command on every call.
const prefetchWindow = 15 * time.Minute

// chain is the provider of the last link and what the caller reports.
type chain struct {
	// provider makes the last link's credentials: the
	// *stschain.ChainableProvider of a role or GetSessionToken link, or,
	// for a profile whose own credentials are used as they are (an SSO
	// profile, a credential_process, web identity ...), its root in a
	// freshRoot.
	provider aws.CredentialsProvider
	region   string            // the command's region: --region, else the profile's; "" for none
	profile  string            // the profile the chain comes from, resolved; "" when none
	roleARN  string            // the top role of the chain; "" when it has none
	base     *awsprofile.Chain // the profile's chain, under the flags' links
}

// buildChain validates f and builds the chain it describes: the chain of
// the profile (--profile, else AWS_PROFILE, else default), built by
// awsprofile from the AWS config files, with the links of the flags on
// top. Errors from the flags, the environment variable of
// --totp-secret-env, the file of --policy-file, a wrong config and
// stschain.NewChain are usage errors; opening the cache directory is not.
func buildChain(ctx context.Context, inv *invocation, f *chainFlags) (*chain, error) {
	name := inv.cmd.name
	if err := f.validate(name); err != nil {
		return nil, err
	}
	codes, prompt, err := mfaSources(inv, f)
	if err != nil {
		return nil, err
	}
	policy, err := readPolicyFile(name, f.policyFile)
	if err != nil {
		return nil, err
	}
	cache, err := openCache(f, inv.stderr)
	if err != nil {
		return nil, err
	}
	var logger *slog.Logger
	if f.verbose {
		logger = slog.New(slog.NewTextHandler(inv.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	linkOpt := func(o *stschain.Options) {
		o.Logger = logger
		o.PrefetchWindow = prefetchWindow
	}
	// --session-duration without --mfa-serial is the profile's MFA session
	// a day, under its roles with mfa_serial; with --mfa-serial it is a
	// link of the flags, on the profile's credentials.
	var sessionDuration time.Duration
	if f.mfaSerial == "" {
		sessionDuration = time.Duration(f.sessionDuration)
	}
	pc, err := loadProfile(ctx, name, f, codes, cache, linkOpt, sessionDuration,
		keyringOption(inv, f), // keys of profiles with none in the files: keyring.go
		func(o *awsprofile.Options) { o.Prompt = prompt })
	if err != nil {
		return nil, err
	}
	c := &chain{region: pc.Config.Region, profile: pc.Profile, base: pc}
	profileRole, sessionTaken, profileMFA := "", false, false
	for _, l := range pc.Links {
		switch l.Kind {
		case awsprofile.KindAssumeRole, awsprofile.KindWebIdentity:
			profileRole = l.RoleARN
		case awsprofile.KindSessionToken:
			sessionTaken = true
		}
		profileMFA = profileMFA || l.SerialNumber != ""
	}
	c.roleARN = profileRole

	session, err := sessionOnRoot(ctx, name, f, pc, profileRole, sessionTaken)
	if err != nil {
		return nil, err
	}
	links := linkOptions(f, policy, session)
	if len(links) == 0 {
		// The profile's chain, as it is.
		if top := pc.Top(); top != nil {
			c.provider = top
		} else {
			c.provider = newFreshRoot(pc.Config.Credentials)
		}
	} else {
		if codes == nil {
			// The profile's own source of codes for its device, else
			// the prompt.
			codes = pc.TokenCode(f.mfaSerial)
		}
		if codes == nil {
			codes = prompt
		}
		links[0].TokenCode = codes
		for i := range links {
			links[i].Cache = cache
			linkOpt(&links[i])
		}
		top, err := newFlagChain(pc.Config, links)
		if err != nil {
			return nil, &usageError{err} // stschain's own message
		}
		c.provider = top
		if n := len(f.roleARNs); n > 0 {
			c.roleARN = f.roleARNs[n-1]
		}
	}
	if f.hasCodeSource() && f.mfaSerial == "" && !profileMFA {
		return nil, usagef(name, "%s gives MFA codes, but no link of the chain has an MFA device: give --mfa-serial, or a --profile with mfa_serial", f.codeSourceFlag())
	}
	if f.region != "" {
		c.region = f.region
	}
	return c, nil
}

// loadProfile loads the chain of the profile f names, with the flags that
// reach it: the region and endpoint of every STS call, the MFA codes, the
// cache and the links' options; more are applied after these.
func loadProfile(ctx context.Context, name string, f *chainFlags, codes stschain.TokenCodeFunc, cache stschain.Cache,
	linkOpt func(*stschain.Options), sessionDuration time.Duration, more ...func(*awsprofile.Options)) (*awsprofile.Chain, error) {
	var load []func(*config.LoadOptions) error
	if f.region != "" {
		load = append(load, config.WithRegion(f.region))
	}
	if f.endpointURL != "" {
		load = append(load, config.WithBaseEndpoint(f.endpointURL))
	}
	pc, err := awsprofile.LoadChain(ctx, f.profile, append([]func(*awsprofile.Options){func(o *awsprofile.Options) {
		o.TokenCode = codes // nil: each profile's mfa_process, else the prompt
		o.Cache = cache
		o.SessionDuration = sessionDuration
		o.LinkOptions = []func(*stschain.Options){linkOpt}
		o.LoadOptions = load
	}}, more...)...)
	if err != nil {
		if errors.Is(err, awsprofile.ErrInvalidConfig) || errors.Is(err, stschain.ErrInvalidOptions) {
			return nil, &usageError{&cmdError{cmd: name, err: err}}
		}
		return nil, &cmdError{cmd: name, err: err}
	}
	return pc, nil
}

// sessionOnRoot reports whether the flags' links start with a
// GetSessionToken link on the profile's credentials: with
// --session-duration (unless the profile's chain took it, under its
// roles), or alone, when neither the flags nor the profile have a role,
// as aws-vault and "aws sts get-session-token" do. GetSessionToken takes
// an IAM user's long-term keys only: asked for on anything else it is a
// usage error that says why; the default link is left out for a root that
// hands out sessions, whose credentials are then the chain's as they are.
// Finding out may run the root's credential_process.
func sessionOnRoot(ctx context.Context, name string, f *chainFlags, pc *awsprofile.Chain, profileRole string, sessionTaken bool) (bool, error) {
	asked := f.sessionDuration != 0 && !sessionTaken
	if !asked && (len(f.roleARNs) > 0 || profileRole != "") {
		return false, nil
	}
	flag, fix := "--session-duration", "leave out --session-duration"
	if !asked {
		flag, fix = "--mfa-serial without a --role-arn", "give a --role-arn to send the MFA code with, or leave out --mfa-serial"
	}
	if len(pc.Links) > 1 { // roles above the root
		if f.mfaSerial != "" {
			return false, usagef(name, "--mfa-serial with --session-duration asks for an MFA GetSessionToken session on the profile's credentials, but profile %s ends in role %s, and GetSessionToken takes an IAM user's keys: leave out --mfa-serial to use the profile's mfa_serial, or give --profile a profile with keys", quote(pc.Profile), quote(profileRole))
		}
		if root := pc.Links[0]; slices.ContainsFunc(pc.Links, func(l awsprofile.Link) bool { return l.SerialNumber != "" }) {
			return false, usagef(name, "--session-duration asks for an MFA GetSessionToken session under the roles of profile %s, which takes an IAM user's long-term keys, and the profile's credentials are %s, which are temporary already: leave out --session-duration", quote(pc.Profile), rootKind(root.Kind))
		}
		return false, usagef(name, "--session-duration asks for an MFA GetSessionToken session under the roles of profile %s, and none of them has mfa_serial: it would go on top of role %s, and GetSessionToken takes an IAM user's keys: leave out --session-duration, or give the profile's role mfa_serial", quote(pc.Profile), quote(profileRole))
	}
	root := pc.Links[0]
	long, err := root.LongTermKeys(ctx)
	if err != nil {
		return false, &cmdError{cmd: name, err: err}
	}
	switch {
	case long:
		return true, nil
	case asked || f.mfaSerial != "":
		return false, usagef(name, "%s asks for a GetSessionToken session, which takes an IAM user's long-term keys, and the credentials of profile %s are %s, which are temporary already: %s", flag, quote(profileName(pc.Profile)), rootKind(root.Kind), fix)
	}
	return false, nil
}

// profileName is the name the user knows a chain's profile by: "default"
// for none.
func profileName(profile string) string {
	if profile == "" {
		return "default"
	}
	return profile
}

// rootKind says in words what a chain's root is.
func rootKind(k awsprofile.LinkKind) string {
	switch k {
	case awsprofile.KindStatic:
		return "keys with aws_session_token"
	case awsprofile.KindEnvironment:
		return "keys with AWS_SESSION_TOKEN in the environment"
	case awsprofile.KindProcess:
		return "the session its credential_process prints"
	case awsprofile.KindSSO:
		return "IAM Identity Center (SSO) role credentials"
	case awsprofile.KindLogin:
		return "the session of aws login (login_session)"
	case awsprofile.KindWebIdentity:
		return "a web identity role's session (AssumeRoleWithWebIdentity)"
	case awsprofile.KindEcsContainer:
		return "the container's role credentials"
	case awsprofile.KindEc2InstanceMetadata:
		return "the instance's role credentials (instance metadata)"
	}
	return string(k) + " credentials"
}

// linkOptions lists the options of each link the flags put on top of the
// profile's chain, bottom first: the GetSessionToken link when session
// (see sessionOnRoot), then the roles. The first link gets the MFA serial
// (the caller sets its TokenCode); the first role the session tags and
// source identity, which AWS carries up a role chain; the last role the
// external ID and the session policies (policy, the text of
// --policy-file), which scope the final session.
func linkOptions(f *chainFlags, policy string, session bool) []stschain.Options {
	var links []stschain.Options
	if session {
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
	if len(links) > 0 {
		links[0].SerialNumber = f.mfaSerial
	}
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
		return "", usagef(name, "--policy-file: %w", err)
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxPolicyFile+1))
	switch {
	case err != nil:
		return "", usagef(name, "--policy-file: %w", err)
	case len(data) > maxPolicyFile:
		return "", usagef(name, "--policy-file %s is over %d KiB: STS takes a policy of 2048 characters", quote(path), maxPolicyFile>>10)
	}
	return string(data), nil
}

// openCache returns the session cache of --cache-dir (the AWS CLI's by
// default), or nil with --no-cache. The AWS CLI's own directory may be one
// the cache refuses (group-writable under umask 002): then a warning on
// stderr says how to fix it and the chain goes on without the cache; a
// --cache-dir that is refused is an error.
func openCache(f *chainFlags, stderr io.Writer) (stschain.Cache, error) {
	if f.noCache {
		return nil, nil
	}
	dir, err := cacheDir(f)
	if err != nil {
		return nil, err
	}
	fc, err := stschain.NewFileCache(dir)
	if err != nil {
		if f.cacheDir == "" {
			fmt.Fprintf(stderr, "%s; going on without the session cache\n", flat(err)) // stschain's own message
			return nil, nil
		}
		return nil, err
	}
	return fc, nil
}

// cacheDir is the session cache's directory: --cache-dir, else the AWS
// CLI's.
func cacheDir(f *chainFlags) (string, error) {
	if f.cacheDir != "" {
		return f.cacheDir, nil
	}
	return stschain.DefaultCLICacheDir()
}

// retrieve builds the chain of f and retrieves the last link's
// credentials. On failure it has reported the error on stderr and returns
// the exit status.
func retrieve(ctx context.Context, inv *invocation, f *chainFlags) (aws.Credentials, *chain, int) {
	c, err := buildChain(ctx, inv, f)
	if err != nil {
		return aws.Credentials{}, nil, fail(inv.stderr, err)
	}
	creds, err := c.provider.Retrieve(ctx)
	if err != nil {
		if sig := signalOf(ctx); sig != nil {
			return aws.Credentials{}, nil, interrupted(inv.stderr, sig)
		}
		return aws.Credentials{}, nil, fail(inv.stderr, credentialError(inv.cmd.name, err))
	}
	return creds, c, exitOK
}

// credentialError is the error the command reports when the chain's
// credentials cannot be had: a root that needs the user to sign in again
// says what to run, and only that; stschain's errors are reported as they
// are; any other (a root's) is put in a cmdError.
func credentialError(name string, err error) error {
	var login *awsprofile.LoginRequiredError
	if errors.As(err, &login) {
		return &cmdError{cmd: name, err: login}
	}
	if errors.As(err, new(*stschain.Error)) {
		return err // stschain's own message
	}
	return &cmdError{cmd: name, err: err}
}

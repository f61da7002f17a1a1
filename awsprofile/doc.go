// Package awsprofile builds stschain chains from the AWS config files: the
// profiles with role_arn, source_profile and mfa_serial, SSO, login_session
// and credential_process that users already keep in ~/.aws/config.
//
//	cfg, err := awsprofile.LoadConfig(ctx, "prod-admin")
//	if err != nil { ... }
//	client := s3.NewFromConfig(cfg)
//
// [LoadConfig] returns the aws.Config that config.LoadDefaultConfig returns
// for the profile, with one difference: every role of the profile's chain
// is a [stschain.ChainableProvider] of its own, which refreshes in the
// background on its own schedule, so a refresh of the top role re-assumes
// no inner role that is not itself due, and no caller waits for STS. The
// SDK's own profile chain re-assumes every inner role on every refresh of
// the top one, while its callers wait. MFA works (the SDK's loader refuses
// mfa_serial unless given a token provider), and the sessions can be
// cached across processes and shared with the AWS CLI.
//
// # Reading the files as the AWS CLI does
//
// The chain is the one the AWS CLI makes of the same files: the rules are
// botocore's (configloader.py and credentials.py), which the SDK's loader
// departs from in places:
//
//   - Sections: [profile NAME] and [default] in config files, the name
//     split as a shell splits it ([profile "my profile"] is "my profile");
//     [NAME] in credentials files, whose keys win over the config files'.
//     Of [profile default] and [default] in one file, the later one is the
//     default profile.
//   - role_arn + source_profile: the role is assumed with the source
//     profile's credentials, to any depth. A source profile with static
//     keys, or without a role_arn, ends the chain with its own credentials;
//     on the selected profile itself, role_arn + source_profile win over its
//     keys. A profile may be its own source_profile only when it holds
//     static keys. A loop, a missing source, role_arn with neither or both of
//     source_profile and credential_source, are errors.
//   - role_arn + credential_source (Environment, Ec2InstanceMetadata,
//     EcsContainer): the source is the root, whatever static keys the
//     profile also holds.
//   - A profile's own credentials, in botocore's order: web identity
//     (web_identity_token_file + role_arn: AssumeRoleWithWebIdentity), SSO
//     (sso_session, or the legacy sso_* keys), the keys of the credentials
//     file, login_session (aws login), credential_process, the keys of the
//     config file. Keys come with the session token of their own file
//     (aws_session_token, or the legacy aws_security_token), never with
//     another file's.
//   - With [Options.Keys] (package [github.com/stschain/stschain/keyring]
//     makes one), a profile with none of these in the files takes the
//     long-term keys Keys has for it, from an OS keyring say, and so does
//     a profile whose role_arn has no source in the files (neither
//     source_profile nor credential_source, or itself as source_profile
//     without static keys), as aws-vault uses its keys: see [KeysFunc].
//   - No profile credentials: keys in the environment (unless a profile was
//     named), a web identity in the environment, else the container's
//     credentials when the environment names them, else the instance's.
//   - On every role link, external_id, role_session_name, duration_seconds
//     (sent as written) and mfa_serial (with [Options.TokenCode]) reach
//     AssumeRole; so do aws-vault's source_identity, session_tags and
//     transitive_session_tags where present.
//
// Lines and values are read as the SDK's parser reads them (a comment after
// a value is cut, one pair of quotes around any value is removed), so that
// a value means what it means in the SDK's aws.Config of the same files.
// Every call of the chain, the roots' included (STS, the SSO portal and its
// token refresh, the sign-in service, AssumeRoleWithWebIdentity), goes to
// the endpoint the config resolves: AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_STS,
// AWS_ENDPOINT_URL_SSO, endpoint_url or a services section. Where the
// package differs from the AWS CLI on purpose, the README's table of
// differences says so; a test runs the peers' own test setups through the
// AWS CLI and through LoadChain and checks each difference.
//
// The files are read by the package itself: the SDK's parser exposes
// neither botocore's section names nor the keys aws-vault adds. The rest of
// the aws.Config (region, endpoints, retryer, HTTP client) is the SDK
// loader's; where that loader refuses a profile botocore reads (a broken
// AWS_PROFILE behind keys of the environment, web_identity_token_file with
// source_profile, a quoted name), it is given a copy of the profile's
// settings without its credential keys, in a private temporary file that
// is removed at once.
//
// # Roots
//
// Every kind of profile is usable without a role: its chain is one link,
// the root. An SSO or login_session root whose session is missing or has
// expired fails with a *[LoginRequiredError] saying what to run (aws sso
// login --profile NAME, aws login --profile NAME). A credential_process's
// output is read up to 64 KiB and never quoted in an error; web identity
// and container token files are read only when they are regular files of
// at most 256 KiB, without blocking on a FIFO.
//
// With [Options.Cache], the roots' credentials that expire (SSO role
// credentials, a credential_process's with an Expiration) are kept in the
// cache and fetched under its lock, as role sessions are, so that many
// processes run a root once per lifetime; SSO role credentials use the AWS
// CLI's own cache key and format, so that the CLI and this package share
// them.
//
// # Errors
//
// A wrong configuration is a *[ConfigError] naming the profile at fault and
// the profiles followed to it, returned before any call: a loop, a missing
// source profile, source_profile together with credential_source, role_arn
// with neither, one static key without the other, an unknown
// credential_source, no such profile, or a value a link refuses. It matches
// [ErrInvalidConfig], and [ErrProfileNotFound] for a missing profile.
//
// # One MFA prompt a day
//
// With [Options.SessionDuration] set, a chain whose root hands out
// long-term keys (static keys without a session token, keys of the
// environment, or a credential_process that prints them) and one of whose
// roles has mfa_serial gets a GetSessionToken link of that length, with
// MFA, on its root; the roles above are assumed from that session without
// MFA. With [Options.Cache] set to a [stschain.FileCache], the session
// survives restarts: one prompt per SessionDuration.
//
// # Environment
//
// Like config.LoadDefaultConfig, the package reads the environment: the
// variables the SDK's loader reads (through config.NewEnvConfig), and
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE and AWS_LOGIN_CACHE_DIRECTORY,
// which the SDK's providers read on their own; once per load.
package awsprofile

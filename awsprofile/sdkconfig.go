package awsprofile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// unbuilt stands in for the credentials while the SDK loads the config,
// so that it resolves none of its own.
type unbuilt struct{}

func (unbuilt) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errors.New("awsprofile: the chain was not built")
}

// sdkConfig returns the aws.Config the SDK's loader makes of the selected
// profile (region, endpoints, retryer, HTTP client ...), without
// credentials.
//
// The SDK's loader also reads the profile's credential settings, and
// refuses some that botocore reads (web_identity_token_file with
// source_profile, credential_process with role_arn and source_profile, a
// broken source profile behind keys of the environment), or reads another
// section than botocore ([profile "quoted"], [profile default] with
// [default]). The chain comes from this package's own reading; for the
// rest, the SDK's loader is given, where it refuses the files or would
// read another section, a copy of the files' settings as botocore reads
// them for the profile, without its credential keys: a file in a new
// private temporary directory, removed before sdkConfig returns.
func (l *loader) sdkConfig(ctx context.Context, p *fileProfile) (aws.Config, error) {
	load := func(extra ...func(*config.LoadOptions) error) (aws.Config, error) {
		opts := append(slices.Clip(l.o.LoadOptions), l.fileOptions()...)
		opts = append(opts, config.WithCredentialsProvider(unbuilt{}))
		return config.LoadDefaultConfig(ctx, append(opts, extra...)...)
	}
	var profileOpt []func(*config.LoadOptions) error
	if l.profile != "" {
		profileOpt = append(profileOpt, config.WithSharedConfigProfile(l.profile))
	}
	if p == nil || !p.odd {
		cfg, err := load(profileOpt...)
		if err == nil || p == nil {
			return cfg, err
		}
	}
	dir, err := os.MkdirTemp("", "awsprofile-")
	if err != nil {
		return aws.Config{}, err
	}
	defer os.RemoveAll(dir)
	name := filepath.Join(dir, "config")
	if err := os.WriteFile(name, []byte(l.files.sdkCopy(p)), 0o600); err != nil {
		return aws.Config{}, err
	}
	return load(config.WithSharedConfigFiles([]string{name}), config.WithSharedCredentialsFiles([]string{}),
		config.WithSharedConfigProfile(copiedProfile))
}

// copiedProfile is the name of the profile in sdkCopy.
const copiedProfile = "selected"

// credentialKeys are the keys sdkCopy leaves out: those that make the
// chain, which this package reads itself.
var credentialKeys = []string{
	"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_security_token", "aws_account_id",
	"role_arn", "source_profile", "credential_source", "credential_process", "web_identity_token_file",
	"role_session_name", "external_id", "mfa_serial", "duration_seconds", "login_session",
	"sso_session", "sso_start_url", "sso_region", "sso_account_id", "sso_role_name", "sso_registration_scopes",
	"source_identity", "session_tags", "transitive_session_tags", "mfa_process",
}

// sdkCopy is a config file with profile p's settings, as botocore reads
// them, under the name copiedProfile, without its credential keys, and the
// config files' other sections (services, sso-session ...).
func (f *sharedFiles) sdkCopy(p *fileProfile) string {
	var b strings.Builder
	b.WriteString("[profile " + copiedProfile + "]\n")
	for _, keys := range []map[string]fileValue{p.config, p.creds} {
		for _, k := range sortedKeys(keys) {
			if slices.Contains(credentialKeys, k) {
				continue
			}
			for _, line := range keys[k].lines {
				b.WriteString(line + "\n")
			}
		}
	}
	for _, s := range f.sections {
		b.WriteString(s)
	}
	return b.String()
}

func sortedKeys(m map[string]fileValue) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

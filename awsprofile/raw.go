package awsprofile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"gopkg.in/ini.v1"
)

// rawProfiles holds each profile's keys as gopkg.in/ini.v1 reads the files
// the SDK reads, merged as the SDK merges them (config files first, then
// credentials files; a later file wins). Keys are lower case.
//
// The SDK's parser decides everything about a chain. This second reading
// serves only what its SharedConfig does not expose: aws-vault's keys
// (source_identity, session_tags, transitive_session_tags, mfa_process),
// and, when the SDK's loader refuses a profile without saying which one is
// at fault, naming it.
type rawProfiles map[string]map[string]string

// rawLoadOptions read as leniently as the files allow: the SDK has already
// judged them, and this reading must not fail where it did not.
var rawLoadOptions = ini.LoadOptions{
	Loose:                    true, // a missing file is empty, as for the SDK
	InsensitiveKeys:          true,
	AllowNestedValues:        true, // services sections, s3 = ...
	SpaceBeforeInlineComment: true, // "a#b" is a value, "a #b" has a comment
	PreserveSurroundedQuote:  true, // as botocore and the SDK keep quotes
	SkipUnrecognizableLines:  true,
}

// readRaw reads configFiles (sections "profile NAME" and "default") and
// credentialsFiles (sections "NAME").
func readRaw(configFiles, credentialsFiles []string) (rawProfiles, error) {
	raw := rawProfiles{}
	for _, files := range []struct {
		names  []string
		config bool
	}{{configFiles, true}, {credentialsFiles, false}} {
		for _, name := range files.names {
			f, err := ini.LoadSources(rawLoadOptions, name)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", name, err)
			}
			for _, sec := range f.Sections() {
				profile, ok := sectionProfile(sec.Name(), files.config)
				if !ok {
					continue
				}
				keys := raw[profile]
				if keys == nil {
					keys = map[string]string{}
					raw[profile] = keys
				}
				for _, k := range sec.Keys() {
					keys[strings.ToLower(k.Name())] = strings.TrimSpace(k.Value())
				}
			}
		}
	}
	return raw, nil
}

// sectionProfile returns the profile a section holds, as the SDK names
// sections: "profile NAME" and "default" in config files, "NAME" in
// credentials files.
func sectionProfile(section string, configFile bool) (string, bool) {
	if section == ini.DefaultSection {
		return "", false
	}
	if !configFile {
		return section, !strings.HasPrefix(section, "profile ")
	}
	if name, ok := strings.CutPrefix(section, "profile "); ok {
		return strings.TrimSpace(name), true
	}
	return section, section == "default"
}

// resolveFiles returns the files the SDK reads: the ones in Options, else
// the ones in LoadOptions, else the environment's (AWS_CONFIG_FILE,
// AWS_SHARED_CREDENTIALS_FILE, as the SDK read them into env), else the
// SDK's defaults.
func resolveFiles(given, loadOptions []string, fromEnv string, defaults []string) []string {
	switch {
	case given != nil:
		return given
	case loadOptions != nil:
		return loadOptions
	case fromEnv != "":
		return []string{fromEnv}
	}
	return defaults
}

func configFiles(o *Options, lo *config.LoadOptions, env config.EnvConfig) []string {
	return resolveFiles(o.ConfigFiles, lo.SharedConfigFiles, env.SharedConfigFile, config.DefaultSharedConfigFiles)
}

func credentialsFiles(o *Options, lo *config.LoadOptions, env config.EnvConfig) []string {
	return resolveFiles(o.CredentialsFiles, lo.SharedCredentialsFiles, env.SharedCredentialsFile, config.DefaultSharedCredentialsFiles)
}

// vaultKeys are the aws-vault settings of one profile's role link.
type vaultKeys struct {
	sourceIdentity string
	tags           map[string]string
	transitiveTags []string
	mfaProcess     string
}

// vault returns the aws-vault keys of profile: source_identity,
// session_tags ("key=value,key=value"), transitive_session_tags
// ("key,key") and mfa_process, in aws-vault's formats.
func (raw rawProfiles) vault(profile string) (vaultKeys, error) {
	keys := raw[profile]
	v := vaultKeys{
		sourceIdentity: keys["source_identity"],
		mfaProcess:     keys["mfa_process"],
	}
	if s := keys["session_tags"]; s != "" {
		v.tags = map[string]string{}
		for _, pair := range strings.Split(s, ",") {
			k, val, ok := strings.Cut(pair, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				return vaultKeys{}, fmt.Errorf("session_tags %q is not key=value,key=value", s)
			}
			v.tags[k] = strings.TrimSpace(val)
		}
	}
	if s := keys["transitive_session_tags"]; s != "" {
		for _, k := range strings.Split(s, ",") {
			if k = strings.TrimSpace(k); k != "" {
				v.transitiveTags = append(v.transitiveTags, k)
			}
		}
		for _, k := range v.transitiveTags {
			if _, ok := v.tags[k]; !ok {
				return vaultKeys{}, fmt.Errorf("transitive_session_tags names %q, which is not a key of session_tags (%s)",
					k, strings.Join(slices.Sorted(maps.Keys(v.tags)), ", "))
			}
		}
	}
	return v, nil
}

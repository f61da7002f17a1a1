package awsprofile

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/stschain/stschain"
)

// loader builds one chain.
type loader struct {
	o       Options
	profile string             // as asked for, else the one LoadOptions names
	sdkOpts config.LoadOptions // o.LoadOptions applied, to read the providers' options
	env     environ
	files   *sharedFiles
}

// fileOptions name the files of Options to the SDK's loader.
func (l *loader) fileOptions() []func(*config.LoadOptions) error {
	var opts []func(*config.LoadOptions) error
	if l.o.ConfigFiles != nil {
		opts = append(opts, config.WithSharedConfigFiles(l.o.ConfigFiles))
	}
	if l.o.CredentialsFiles != nil {
		opts = append(opts, config.WithSharedCredentialsFiles(l.o.CredentialsFiles))
	}
	return opts
}

// setup applies LoadOptions and reads the environment.
func (l *loader) setup() error {
	for _, fn := range l.o.LoadOptions {
		if fn != nil {
			if err := fn(&l.sdkOpts); err != nil {
				return fmt.Errorf("awsprofile: LoadOptions: %w", err)
			}
		}
	}
	env, err := readEnviron()
	l.env = env
	return err
}

// readFiles reads the files the options and the environment name.
func (l *loader) readFiles() (err error) {
	l.files, err = readSharedFiles(configFiles(&l.o, &l.sdkOpts, l.env.EnvConfig), credentialsFiles(&l.o, &l.sdkOpts, l.env.EnvConfig))
	return err
}

func (l *loader) load(ctx context.Context) (*Chain, error) {
	p, err := l.plan(ctx, l.o.Keys)
	if err != nil {
		return nil, err
	}
	selected := p.profile
	prof := l.files.profiles[selected]
	base, err := l.sdkConfig(ctx, prof)
	if err != nil {
		return nil, &ConfigError{Profile: selected, Problem: "the SDK cannot load the profile's settings: " + causeText(err), Err: err}
	}
	base.Credentials = nil
	scrubSources(&base)
	chain, err := l.build(ctx, base, p)
	if err != nil {
		return nil, err
	}
	if prof != nil {
		chain.Profile = selected
	}
	return chain, nil
}

// plan reads the environment and the files, and returns the plan of the
// selected profile (the one asked for, else the one LoadOptions names,
// else AWS_PROFILE, else default), asking keys for the keys of profiles
// with none in the files.
func (l *loader) plan(ctx context.Context, keys KeysFunc) (plan, error) {
	if err := l.setup(); err != nil {
		return plan{}, err
	}
	env := l.env
	if l.profile == "" {
		l.profile = l.sdkOpts.SharedConfigProfile
	}
	selected, explicit := l.profile, l.profile != ""
	fromEnv := !explicit && env.SharedConfigProfile != ""
	switch {
	case fromEnv:
		selected = env.SharedConfigProfile
	case !explicit:
		selected = "default"
	}

	if err := l.readFiles(); err != nil {
		return plan{}, &ConfigError{Profile: selected, Problem: causeText(err), Err: err}
	}
	return resolvePlan(ctx, l.files, env.EnvConfig, selected, explicit, fromEnv, keys)
}

// options are the options of r's link, without the cache, the MFA codes
// and the master, which the chain gives.
func (r rolePlan) options() stschain.Options {
	return stschain.Options{
		RoleARN:           r.roleARN,
		RoleSessionName:   r.sessionName,
		ExternalID:        r.externalID,
		SerialNumber:      r.serial,
		Duration:          r.duration,
		SourceIdentity:    r.vault.sourceIdentity,
		Tags:              r.vault.tags,
		TransitiveTagKeys: r.vault.transitiveTags,
	}
}

// resolveFiles returns the files the SDK reads: the ones in Options, else
// the ones in LoadOptions, else the environment's (AWS_CONFIG_FILE,
// AWS_SHARED_CREDENTIALS_FILE), else the SDK's defaults.
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

// linkSpec is a link of the chain above the root, before it is built.
type linkSpec struct {
	link Link
	opts stschain.Options
}

// build makes the providers of p on base.
func (l *loader) build(ctx context.Context, base aws.Config, p plan) (*Chain, error) {
	root, err := l.root(base, p.root)
	if err != nil {
		return nil, err
	}
	chain := &Chain{Links: []Link{root}, codes: l.tokenCodes(p)}

	var specs []linkSpec
	for _, r := range p.roles {
		so := r.options()
		so.Cache = l.o.Cache
		if so.SerialNumber != "" {
			so.TokenCode = l.tokenCode(r.vault)
		}
		specs = append(specs, linkSpec{Link{Kind: KindAssumeRole, Profile: r.profile, RoleARN: r.roleARN, SerialNumber: r.serial}, so})
	}
	if specs, err = l.sessionLink(ctx, root, specs); err != nil {
		return nil, err
	}

	prev := root.Provider
	for _, s := range specs {
		fns := []func(*stschain.Options){func(o *stschain.Options) { *o = s.opts }}
		fns = append(fns, l.o.LinkOptions...)
		master := prev
		fns = append(fns, func(o *stschain.Options) { o.MasterCredentials = master })
		cp, err := stschain.New(base, fns...)
		if err != nil {
			what := "role_arn " + s.opts.RoleARN
			if s.link.Kind == KindSessionToken {
				what = "the GetSessionToken link of SessionDuration"
			}
			return nil, &ConfigError{Profile: s.link.Profile, Problem: what + ": " + causeText(err), Err: err}
		}
		s.link.Provider = cp
		chain.Links = append(chain.Links, s.link)
		prev = cp
	}
	base.Credentials = prev
	chain.Config = base
	return chain, nil
}

// sessionLink puts the GetSessionToken link of Options.SessionDuration
// under specs when it applies: a role of the chain has mfa_serial, and the
// root hands out long-term keys (which, for a credential_process root,
// takes running it).
func (l *loader) sessionLink(ctx context.Context, root Link, specs []linkSpec) ([]linkSpec, error) {
	if l.o.SessionDuration <= 0 {
		return specs, nil
	}
	i := 0
	for i < len(specs) && specs[i].opts.SerialNumber == "" {
		i++
	}
	if i == len(specs) {
		return specs, nil
	}
	long, err := root.LongTermKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("awsprofile: profile %q: finding out whether %s gives long-term keys for SessionDuration: %w", root.Profile, root.Kind, err)
	}
	if !long {
		return specs, nil
	}
	gst := linkSpec{
		link: Link{Kind: KindSessionToken, Profile: specs[i].link.Profile, SerialNumber: specs[i].opts.SerialNumber},
		opts: stschain.Options{Duration: l.o.SessionDuration, SerialNumber: specs[i].opts.SerialNumber, TokenCode: specs[i].opts.TokenCode, Cache: l.o.Cache},
	}
	for j := range specs {
		specs[j].opts.SerialNumber, specs[j].opts.TokenCode = "", nil
		specs[j].link.SerialNumber = ""
	}
	return append([]linkSpec{gst}, specs...), nil
}

// tokenCodes maps each device that a profile of p names in mfa_serial, the
// root's profile included, to what gives its codes (tokenCode of the
// lowest such profile): for Chain.TokenCode.
func (l *loader) tokenCodes(p plan) map[string]stschain.TokenCodeFunc {
	codes := map[string]stschain.TokenCodeFunc{}
	profiles := []string{p.root.profile}
	for _, r := range p.roles {
		profiles = append(profiles, r.profile)
	}
	for _, name := range profiles {
		fp := l.files.profiles[name]
		serial, _ := fp.get("mfa_serial")
		if serial != "" && codes[serial] == nil {
			process, _ := fp.get("mfa_process")
			codes[serial] = l.tokenCode(vaultKeys{mfaProcess: process})
		}
	}
	return codes
}

// tokenCode is what gives the MFA codes of a link whose profile has v.
func (l *loader) tokenCode(v vaultKeys) stschain.TokenCodeFunc {
	switch {
	case l.o.TokenCode != nil:
		return l.o.TokenCode
	case v.mfaProcess != "":
		return stschain.ProcessTokenCode(v.mfaProcess)
	case l.o.Prompt != nil:
		return l.o.Prompt
	}
	return stschain.PromptTokenCode
}

// scrubSources removes the keys the SDK's loader read into the config's
// sources (the environment's, the profile's): the chain makes the
// credentials, and no printing of the config (fmt's %p of a Chain prints
// its fields as they are) should find a secret there.
func scrubSources(cfg *aws.Config) {
	for i, src := range cfg.ConfigSources {
		switch s := src.(type) {
		case config.EnvConfig:
			s.Credentials = aws.Credentials{}
			cfg.ConfigSources[i] = s
		case config.SharedConfig:
			s.Credentials = aws.Credentials{}
			s.Source = nil
			cfg.ConfigSources[i] = s
		}
	}
}

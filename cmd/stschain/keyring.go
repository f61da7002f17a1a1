package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/keyring"
)

// The environment variables of the keyrings. stschain's own choose its
// backend, its file backend's directory and passphrase; aws-vault's say
// where aws-vault keeps its keys, as aws-vault reads them.
const (
	backendEnv            = "STSCHAIN_BACKEND"
	keyringPassphraseEnv  = "STSCHAIN_FILE_PASSPHRASE"
	keyringDirEnv         = "STSCHAIN_FILE_DIR"
	awsVaultBackendEnv    = "AWS_VAULT_BACKEND"
	awsVaultPassphraseEnv = "AWS_VAULT_FILE_PASSPHRASE"
	awsVaultDirEnv        = "AWS_VAULT_FILE_DIR"
)

// backendFlag is --backend: a keyring backend this system has.
type backendFlag string

func (b *backendFlag) String() string { return string(*b) }

func (b *backendFlag) Set(s string) error {
	if err := checkBackend(s); err != nil {
		return err
	}
	*b = backendFlag(s)
	return nil
}

// checkBackend refuses a name that is not a backend of this system.
func checkBackend(s string) error {
	if !slices.Contains(keyring.Backends(), keyring.Backend(s)) {
		return fmt.Errorf("want one of %s", backendNames())
	}
	return nil
}

// backendNames lists the backends of this system, "a, b, c".
func backendNames() string {
	var names []string
	for _, b := range keyring.Backends() {
		names = append(names, string(b))
	}
	return strings.Join(names, ", ")
}

// keyringFlag defines --backend on fs, bound to f.
func keyringFlag(fs *flag.FlagSet, f *chainFlags) {
	fs.Var(&f.backend, "backend", "keyring `NAME` of long-term keys ($"+backendEnv+")")
}

// keyrings are stschain's keyring and aws-vault's, as --backend and the
// environment choose them, each opened when first needed.
type keyrings struct {
	own, awsVault func() (*keyring.Keyring, error)
	// explicit says the user named stschain's backend (--backend or
	// STSCHAIN_BACKEND), awsVaultExplicit aws-vault's (or stschain's):
	// a keyring chosen by default that cannot be opened holds no keys,
	// one the user named is an error.
	explicit, awsVaultExplicit bool
}

// newKeyrings returns the keyrings inv's environment and f choose.
func newKeyrings(inv *invocation, f *chainFlags) (*keyrings, error) {
	backend := keyring.Backend(f.backend)
	if backend == "" {
		if s := inv.env(backendEnv); s != "" {
			if err := checkBackend(s); err != nil {
				return nil, fmt.Errorf("%s %s is not a keyring backend: %w", backendEnv, quote(s), err)
			}
			backend = keyring.Backend(s)
		}
	}
	vaultBackend := backend
	if s := inv.env(awsVaultBackendEnv); s != "" {
		// Checked when opened: a backend of aws-vault's that stschain
		// does not have only hides aws-vault's keys.
		vaultBackend = keyring.Backend(s)
	}
	k := &keyrings{explicit: backend != "", awsVaultExplicit: vaultBackend != ""}
	k.own = sync.OnceValues(func() (*keyring.Keyring, error) {
		dir, err := fileDir(inv, keyringDirEnv, keyring.ServiceStschain)
		if err != nil {
			return nil, err
		}
		return keyring.Open(keyring.Options{
			Backend:    backend,
			FileDir:    dir,
			Passphrase: passphrase(inv, keyringPassphraseEnv, "stschain's keyring"),
		})
	})
	k.awsVault = sync.OnceValues(func() (*keyring.Keyring, error) {
		dir, err := fileDir(inv, awsVaultDirEnv, keyring.ServiceAWSVault)
		if err != nil {
			return nil, err
		}
		return keyring.Open(keyring.Options{
			Service:                 keyring.ServiceAWSVault,
			Backend:                 vaultBackend,
			FileDir:                 dir,
			Passphrase:              passphrase(inv, awsVaultPassphraseEnv, "aws-vault's keyring"),
			KeychainName:            inv.env("AWS_VAULT_KEYCHAIN_NAME"),
			SecretServiceCollection: inv.env("AWS_VAULT_SECRET_SERVICE_COLLECTION_NAME"),
			PassDir:                 expandHome(inv.env("AWS_VAULT_PASS_PASSWORD_STORE_DIR")),
			PassCmd:                 inv.env("AWS_VAULT_PASS_CMD"),
			PassPrefix:              inv.env("AWS_VAULT_PASS_PREFIX"),
		})
	})
	return k, nil
}

// fileDir is the file backend's directory: $envVar, else service's usual
// one under the home directory.
func fileDir(inv *invocation, envVar string, service keyring.Service) (string, error) {
	if d := inv.env(envVar); d != "" {
		return expandHome(d), nil
	}
	return keyring.DefaultFileDir(service)
}

// expandHome replaces a leading "~/" of path with the home directory, as
// aws-vault's library does with its directories.
func expandHome(path string) string {
	if rest, ok := strings.CutPrefix(path, "~"+string(filepath.Separator)); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return path
}

// passphrase gives the passphrase of the file keyring named what: $envVar
// when set, else the user's answer on the terminal, asked twice for a new
// keyring.
func passphrase(inv *invocation, envVar, what string) keyring.PassphraseFunc {
	return func(ctx context.Context, dir string, create bool) (string, error) {
		if p := inv.env(envVar); p != "" {
			return p, nil
		}
		t, err := openTTY()
		if err != nil {
			return "", fmt.Errorf("%w: set %s", err, envVar)
		}
		defer t.Close()
		if !create {
			return t.askSecret(ctx, "Passphrase of "+what+" in "+dir+": ")
		}
		p, err := t.askSecret(ctx, "New passphrase for "+what+" in "+dir+": ")
		if err != nil {
			return "", err
		}
		again, err := t.askSecret(ctx, "The same passphrase again: ")
		if err != nil {
			return "", err
		}
		if again != p {
			return "", errors.New("the two passphrases differ")
		}
		return p, nil
	}
}

// open returns the keyring of get, nil when it is not explicit and cannot
// be opened: a keyring the user did not choose holds no keys.
func open(get func() (*keyring.Keyring, error), explicit bool) (*keyring.Keyring, error) {
	k, err := get()
	if err != nil && !explicit {
		return nil, nil
	}
	return k, err
}

// openOwn returns the keyrings f and the environment choose, and opens
// stschain's; its errors are the command's.
func openOwn(inv *invocation, f *chainFlags) (*keyrings, *keyring.Keyring, error) {
	rings, err := newKeyrings(inv, f)
	if err != nil {
		return nil, nil, usagef(inv.cmd.name, "%w", err)
	}
	own, err := rings.own()
	if err != nil {
		return nil, nil, &cmdError{cmd: inv.cmd.name, err: err}
	}
	return rings, own, nil
}

// lookup is the awsprofile.KeysFunc of the keyrings: a profile's keys in
// stschain's keyring, else in aws-vault's.
func (k *keyrings) lookup(ctx context.Context, profile string) (aws.CredentialsProvider, error) {
	own, err := open(k.own, k.explicit)
	if err != nil {
		return nil, err
	}
	vault, err := open(k.awsVault, k.awsVaultExplicit)
	if err != nil {
		return nil, err
	}
	return keyring.Lookup(ctx, profile, own, vault)
}

// keyringOption sets the awsprofile option that gives a profile with no
// keys in the files (or a source_profile) its keys from the keyrings:
// stschain's, then aws-vault's. A wrong STSCHAIN_BACKEND fails the lookup.
func keyringOption(inv *invocation, f *chainFlags) func(*awsprofile.Options) {
	k, err := newKeyrings(inv, f)
	return func(o *awsprofile.Options) {
		o.Keys = func(ctx context.Context, profile string) (aws.CredentialsProvider, error) {
			if err != nil {
				return nil, err
			}
			return k.lookup(ctx, profile)
		}
	}
}

// keyringTopic says where long-term keys are kept and found.
func keyringTopic() *command {
	return &command{
		name:  "keyring",
		short: "where long-term keys are kept, and found",
		long: `"stschain add PROFILE" keeps an IAM user's long-term keys in stschain's
own keyring (service "stschain") instead of ~/.aws/credentials. The
keyring is the backend --backend names, else $STSCHAIN_BACKEND, else the
first of the system's: the Windows Credential Manager, the macOS Keychain,
the Secret Service (GNOME Keyring, KeePassXC), KWallet, else the file
backend. pass and keyctl are used when named. The file backend keeps
encrypted files in $STSCHAIN_FILE_DIR, else ~/.stschain/keys, with the
passphrase $STSCHAIN_FILE_PASSPHRASE, else one asked for on the terminal.

A profile with no credentials in the files (the selected one, or a
source_profile), or whose role_arn has no source in them, uses its keys
from stschain's keyring, else from aws-vault's, which stschain reads and
never changes: aws-vault's service and names, in $AWS_VAULT_BACKEND, else
the same backend; its file backend in ~/.awsvault/keys
($AWS_VAULT_FILE_DIR) with the passphrase $AWS_VAULT_FILE_PASSPHRASE.
Keys are read only when a chain needs them, which a cached session above
them spares; looking whether a profile has keys asks for no passphrase.

Commands: stschain add PROFILE, stschain remove PROFILE, stschain list.
`,
	}
}

func addCommand() *command {
	return &command{
		name:    "add",
		args:    "[flags] PROFILE",
		maxArgs: 1,
		short:   "store a profile's long-term keys in the keyring",
		long: `Stores the long-term keys of PROFILE (an IAM user's access key ID and
secret access key) in the keyring, so that they need not sit in
~/.aws/credentials: the keys of AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY when set, else asked for on the terminal, the
secret without showing it. A profile that is in none of the AWS config
files gets a [profile PROFILE] section in ~/.aws/config ($AWS_CONFIG_FILE).
A profile whose chain would not use them (it has keys, SSO or another
source in the files, or a source_profile) is refused. Run "stschain help
keyring" for where the keys go.
`,
		example: `  stschain add alice
  [profile admin]
  role_arn = arn:aws:iam::111111111111:role/admin
  source_profile = alice
`,
		flags: keyringFlag,
		run:   onProfile(add),
	}
}

// onProfile is the run of a command that takes one PROFILE: do, ended
// by a signal (a prompt then gives the terminal back as it was).
func onProfile(do func(ctx context.Context, inv *invocation, f *chainFlags, profile string) error) func(context.Context, *invocation, *chainFlags, []string) int {
	return func(ctx context.Context, inv *invocation, f *chainFlags, args []string) int {
		if len(args) != 1 {
			return fail(inv.stderr, usagef(inv.cmd.name, "want %s", inv.cmd.usageLine()))
		}
		ctx, stop := withSignals(ctx)
		defer stop()
		err := do(ctx, inv, f, args[0])
		if sig := signalOf(ctx); sig != nil {
			return interrupted(inv.stderr, sig)
		}
		if err != nil {
			return fail(inv.stderr, err)
		}
		return exitOK
	}
}

func add(ctx context.Context, inv *invocation, f *chainFlags, profile string) error {
	name := inv.cmd.name
	missing, err := checkKeysUsed(ctx, name, profile)
	if err != nil {
		return err
	}
	keys, err := readKeys(ctx, inv)
	if err != nil {
		return err
	}
	if err := keys.Validate(); err != nil {
		return &usageError{&cmdError{cmd: name, err: err}}
	}
	_, own, err := openOwn(inv, f)
	if err != nil {
		return err
	}
	if err := own.Set(ctx, profile, keys); err != nil {
		return &cmdError{cmd: name, err: err}
	}
	fmt.Fprintf(inv.stderr, "Added the keys of profile %s (access key %s) to %s.\n", quote(profile), keys.MaskedAccessKeyID(), own)
	if missing {
		file, err := appendProfile(inv, profile)
		if err != nil {
			return &cmdError{cmd: name, err: fmt.Errorf("the keys are stored, but the profile is in no config file: %w", err)}
		}
		fmt.Fprintf(inv.stderr, "Added [%s] to %s.\n", sectionName(profile), quote(file))
	}
	return nil
}

// stubKeys stands for keys that a profile would have in the keyring; it is
// never retrieved.
type stubKeys struct{}

func (stubKeys) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errors.New("not retrieved")
}

// checkKeysUsed makes sure that keys stored for profile would be the root
// of its chain, were every profile without credentials in the files given
// keys; missing is true when the profile is in no config file (and would
// be, once add has written its section).
func checkKeysUsed(ctx context.Context, name, profile string) (missing bool, err error) {
	chain, err := awsprofile.LoadChain(ctx, profile, func(o *awsprofile.Options) {
		o.Keys = func(context.Context, string) (aws.CredentialsProvider, error) { return stubKeys{}, nil }
	})
	var ce *awsprofile.ConfigError
	switch {
	case errors.As(err, &ce) && errors.Is(err, awsprofile.ErrProfileNotFound) && ce.Profile == profile && len(ce.Chain) == 0:
		if !isPlainProfileName(profile) {
			return false, usagef(name, "profile %s is in no config file, and stschain writes sections only for names of letters, digits and -_.@+: write its [profile ...] section first", quote(profile))
		}
		return true, nil
	case err != nil:
		return false, usagef(name, "profile %s would not use keys from the keyring: %w", quote(profile), err)
	}
	switch root := chain.Links[0]; {
	case root.Kind == awsprofile.KindKeyring && root.Profile == profile:
		return false, nil
	case root.Profile != profile:
		return false, usagef(name, "profile %s would not use keys from the keyring: its chain starts with %s; add the keys to profile %s, at the root of the chain, instead", quote(profile), linkText(root), quote(root.Profile))
	default:
		return false, usagef(name, "profile %s would not use keys from the keyring: its chain starts with %s, which the files set; remove those settings from the files first", quote(profile), linkText(root))
	}
}

// linkText says what link l is, its values quoted: "static (profile
// NAME)", "AssumeRoleWithWebIdentity ARN (profile NAME)".
func linkText(l awsprofile.Link) string {
	s := string(l.Kind)
	if l.RoleARN != "" {
		s += " " + quote(l.RoleARN)
	}
	if l.Profile != "" {
		s += " (profile " + quote(l.Profile) + ")"
	}
	return s
}

// isPlainProfileName reports whether add may write a section for profile:
// a name that needs no quoting in a section header.
func isPlainProfileName(profile string) bool {
	return profile != "" && strings.IndexFunc(profile, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.@+", r))
	}) < 0
}

// sectionName is the config file's section of profile.
func sectionName(profile string) string {
	if profile == "default" {
		return "default"
	}
	return "profile " + profile
}

// appendProfile adds an empty section for profile at the end of the
// config file (AWS_CONFIG_FILE, else ~/.aws/config), which it creates
// (mode 0600, its directory 0700) when there is none, and returns its
// path.
func appendProfile(inv *invocation, profile string) (string, error) {
	file := inv.env("AWS_CONFIG_FILE")
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		file = filepath.Join(home, ".aws", "config")
	}
	file = expandHome(file)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", err
	}
	fh, err := os.OpenFile(file, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	text := "[" + sectionName(profile) + "]\n"
	if fi, err := fh.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := fh.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			text = "\n" + text
		}
	}
	if _, err := fh.WriteString(text); err != nil {
		return "", err
	}
	return file, fh.Close()
}

// readKeys returns the keys of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
// when either is set, else those the user types on the terminal.
func readKeys(ctx context.Context, inv *invocation) (keyring.Keys, error) {
	name := inv.cmd.name
	id, secret := inv.env("AWS_ACCESS_KEY_ID"), inv.env("AWS_SECRET_ACCESS_KEY")
	switch {
	case id != "" || secret != "":
		if id == "" || secret == "" {
			return keyring.Keys{}, usagef(name, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY give the keys together: set both, or neither to type them")
		}
		if inv.env("AWS_SESSION_TOKEN") != "" {
			return keyring.Keys{}, usagef(name, "AWS_SESSION_TOKEN is set: these are temporary credentials, and the keyring keeps an IAM user's long-term keys")
		}
		return keyring.NewKeys(strings.TrimSpace(id), strings.TrimSpace(secret)), nil
	}
	t, err := openTTY()
	if err != nil {
		return keyring.Keys{}, usagef(name, "%w: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to give the keys", err)
	}
	defer t.Close()
	if id, err = t.ask(ctx, "Access key ID: "); err == nil {
		secret, err = t.askSecret(ctx, "Secret access key: ")
	}
	if err != nil {
		return keyring.Keys{}, &cmdError{cmd: name, err: fmt.Errorf("reading the keys: %w", err)}
	}
	return keyring.NewKeys(strings.TrimSpace(id), strings.TrimSpace(secret)), nil
}

func removeCommand() *command {
	return &command{
		name:    "remove",
		args:    "[flags] PROFILE",
		maxArgs: 1,
		short:   "remove a profile's long-term keys from the keyring",
		long: `Removes the long-term keys of PROFILE from stschain's keyring, after
asking on the terminal unless --force is given. As with aws-vault remove,
sessions already made from them stay in the session cache until they
expire. aws-vault's keys are never removed: use aws-vault remove. Run
"stschain help keyring" for where the keys are.
`,
		flags: func(fs *flag.FlagSet, f *chainFlags) {
			keyringFlag(fs, f)
			fs.BoolVar(&f.force, "force", false, "remove without asking")
			fs.BoolVar(&f.force, "f", false, "the same as --force")
		},
		run: onProfile(remove),
	}
}

func remove(ctx context.Context, inv *invocation, f *chainFlags, profile string) error {
	name := inv.cmd.name
	rings, own, err := openOwn(inv, f)
	if err != nil {
		return err
	}
	has, err := own.Has(ctx, profile)
	if err != nil {
		return &cmdError{cmd: name, err: err}
	}
	if !has {
		msg := fmt.Sprintf("%s holds no keys for profile %s", own, quote(profile))
		if vault, _ := open(rings.awsVault, false); vault != nil {
			if in, _ := vault.Has(ctx, profile); in {
				msg += "; " + vault.String() + " does, which stschain never changes: use aws-vault remove"
			}
		}
		return &cmdError{cmd: name, err: errors.New(msg)}
	}
	if !f.force {
		t, err := openTTY()
		if err != nil {
			return usagef(name, "%w to confirm: pass --force to remove without asking", err)
		}
		answer, err := t.ask(ctx, fmt.Sprintf("Remove the keys of profile %s from %s? [y/N] ", quote(profile), own))
		t.Close()
		if err != nil {
			return &cmdError{cmd: name, err: err}
		}
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			fmt.Fprintln(inv.stderr, "Nothing removed.")
			return nil
		}
	}
	if err := own.Remove(ctx, profile); err != nil {
		return &cmdError{cmd: name, err: err}
	}
	fmt.Fprintf(inv.stderr, "Removed the keys of profile %s from %s.\n", quote(profile), own)
	return nil
}

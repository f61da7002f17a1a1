package keyring

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	kr "github.com/99designs/keyring"
	"github.com/mtibben/percent"

	"github.com/stschain/stschain/internal/redact"
)

// Backend names a kind of keyring.
type Backend string

// The backends, named as aws-vault's --backend names them.
const (
	BackendKeychain      Backend = "keychain"       // the macOS Keychain
	BackendWinCred       Backend = "wincred"        // the Windows Credential Manager
	BackendSecretService Backend = "secret-service" // GNOME Keyring, KeePassXC ..., over D-Bus
	BackendKWallet       Backend = "kwallet"        // KDE Wallet, over D-Bus
	BackendPass          Backend = "pass"           // pass, the standard Unix password manager (GnuPG)
	BackendKeyctl        Backend = "keyctl"         // the Linux kernel's user keyring, lost at reboot
	BackendFile          Backend = "file"           // files encrypted with a passphrase, for headless machines
)

// allBackends lists every backend, for messages.
func allBackends() []Backend {
	return []Backend{BackendKeychain, BackendWinCred, BackendSecretService, BackendKWallet, BackendPass, BackendKeyctl, BackendFile}
}

// Backends returns the backends this program supports on this system, in
// github.com/99designs/keyring's order (the system's own keyrings first):
// the names [Options.Backend] takes. The macOS Keychain needs a program
// built with cgo; the Secret Service and KWallet a D-Bus session bus when
// the program started; pass the pass program, which [Open] looks for.
func Backends() []Backend {
	var out []Backend
	for _, b := range kr.AvailableBackends() {
		out = append(out, Backend(b))
	}
	return out
}

// autoOrder is the order Open tries when Options.Backend is empty: the
// system's keyrings, then the file. pass and keyctl are used only when
// named: pass needs a password store set up, and keyctl's user keyring
// does not outlive a reboot.
func autoOrder() []Backend {
	return []Backend{BackendWinCred, BackendKeychain, BackendSecretService, BackendKWallet, BackendFile}
}

// Service is the program whose items a [Keyring] holds: each names its
// items, collections and files its own way.
type Service string

const (
	// ServiceStschain is stschain's own items: service "stschain" (the
	// Keychain's login keychain, the Secret Service collection
	// "stschain", KWallet's folder "stschain", Windows credentials
	// "stschain:PROFILE", pass entries under "stschain/", the kernel
	// keyring "stschain"), read and written.
	ServiceStschain Service = "stschain"
	// ServiceAWSVault is aws-vault's items, read only, as aws-vault names
	// them by default: service "aws-vault" in the keychain "aws-vault",
	// the Secret Service collection "awsvault", KWallet's folder
	// "aws-vault", Windows credentials "aws-vault:PROFILE", pass entries
	// at the top of the password store, the kernel keyring "aws-vault".
	// Only the items of profiles' long-term keys are read; aws-vault's
	// cached sessions and SSO tokens, which share the service, are not.
	ServiceAWSVault Service = "aws-vault"
)

// PassphraseFunc returns the passphrase of the file backend's items in
// dir. create is true when dir holds no item yet: the passphrase given now
// becomes the one of every item, and a prompt should ask for it twice.
type PassphraseFunc func(ctx context.Context, dir string, create bool) (string, error)

// Options configures [Open]. The zero value of every field is valid, and
// means the default its comment gives, except that the file backend needs
// FileDir and Passphrase.
type Options struct {
	// Service is the program whose items the keyring holds. Optional: ""
	// means ServiceStschain.
	Service Service

	// Backend is the keyring to use, one of [Backends]. Optional: ""
	// means the first that opens of the Windows Credential Manager, the
	// macOS Keychain, the Secret Service, KWallet and, when FileDir is
	// set, the file backend; pass and keyctl only when named.
	Backend Backend

	// FileDir is the directory of the file backend, taken literally (no
	// "~" is expanded); a relative one is made absolute now. It is
	// created with mode 0700 when an item is first stored. On Unix it
	// must belong to the user running the program and be writable by
	// nobody else, and so must the directories above it unless they
	// belong to root (or are sticky, as /tmp is). Required for the file
	// backend: [DefaultFileDir] gives each service's usual one.
	FileDir string

	// Passphrase gives the passphrase of the file backend, asked for when
	// an item is first read or written, not to list the profiles or to
	// find out whether one has keys. Required for the file backend.
	Passphrase PassphraseFunc

	// KeychainName is the macOS keychain. Optional: "" means the login
	// keychain for ServiceStschain, "aws-vault" for ServiceAWSVault
	// (aws-vault's AWS_VAULT_KEYCHAIN_NAME).
	KeychainName string

	// SecretServiceCollection is the Secret Service collection. Optional:
	// "" means "stschain", or "awsvault" for ServiceAWSVault
	// (AWS_VAULT_SECRET_SERVICE_COLLECTION_NAME).
	SecretServiceCollection string

	// PassDir is the pass password store. Optional: "" means pass's own
	// (PASSWORD_STORE_DIR, else ~/.password-store).
	PassDir string
	// PassCmd is the pass program. Optional: "" means "pass" on PATH.
	PassCmd string
	// PassPrefix is the folder of the items in the password store.
	// Optional: "" means "stschain", or the top of the store for
	// ServiceAWSVault (AWS_VAULT_PASS_PREFIX).
	PassPrefix string
}

// DefaultFileDir returns the file backend's usual directory for service:
// ~/.stschain/keys, or aws-vault's ~/.awsvault/keys. Unlike the rest of the
// package it reads the environment (through [os.UserHomeDir]), which is
// why Open does not call it.
func DefaultFileDir(service Service) (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("keyring: finding the file backend's directory: %w", err)
	}
	if cmp.Or(service, ServiceStschain) == ServiceAWSVault {
		return filepath.Join(home, ".awsvault", "keys"), nil
	}
	return filepath.Join(home, ".stschain", "keys"), nil
}

// Keyring is one program's items in one backend, an item per profile
// holding its long-term keys. Open one with [Open]. It is safe for
// concurrent use; its operations run one at a time.
//
// No fmt verb, log/slog value or JSON encoding of a Keyring shows the
// passphrase it holds once the file backend is unlocked: they show its
// service, backend and directory.
type Keyring struct {
	service Service // immutable after Open
	backend Backend // immutable after Open
	opts    Options // immutable after Open; FileDir made absolute

	mu      sync.Mutex // guards the fields below, and every use of ring
	ring    kr.Keyring
	realDir string // the file backend's FileDir, symbolic links resolved; "" until it exists
	// pass is the file backend's passphrase once asked for, nil before:
	// behind a pointer, which is all fmt shows of it even where it
	// prints fields without their methods.
	pass *string
}

// Open returns the keyring opts describe. It makes sure the backend can
// be used (the pass program is there, the Secret Service answers) but
// reads no item and asks for no passphrase.
func Open(opts Options) (*Keyring, error) {
	opts.Service = cmp.Or(opts.Service, ServiceStschain)
	if opts.Service != ServiceStschain && opts.Service != ServiceAWSVault {
		return nil, fmt.Errorf("keyring: service %q is not one: want %q or %q", opts.Service, ServiceStschain, ServiceAWSVault)
	}
	if opts.FileDir != "" {
		abs, err := filepath.Abs(opts.FileDir)
		if err != nil {
			return nil, fmt.Errorf("keyring: FileDir: %w", err)
		}
		opts.FileDir = abs
	}
	available := Backends()
	var candidates []Backend
	switch b := opts.Backend; {
	case b == "":
		for _, b := range autoOrder() {
			if slices.Contains(available, b) && (b != BackendFile || opts.FileDir != "") {
				candidates = append(candidates, b)
			}
		}
		if len(candidates) == 0 {
			return nil, fmt.Errorf("keyring: no keyring of this system is available (%s): name one of %s, or give the file backend a directory", runtime.GOOS, list(available))
		}
	case !slices.Contains(allBackends(), b):
		return nil, fmt.Errorf("keyring: %q is not a backend: want one of %s", b, list(available))
	case !slices.Contains(available, b):
		return nil, fmt.Errorf("keyring: backend %s is not available here (%s): want one of %s", b, runtime.GOOS, list(available))
	case b == BackendFile && opts.FileDir == "":
		return nil, errors.New("keyring: the file backend needs Options.FileDir (see DefaultFileDir)")
	default:
		candidates = []Backend{b}
	}
	k := &Keyring{service: opts.Service, opts: opts}
	var errs []error
	for _, b := range candidates {
		ring, err := kr.Open(k.config(b, opts.FileDir))
		if err == nil {
			k.backend, k.ring = b, ring
			return k, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", b, err))
	}
	return nil, fmt.Errorf("keyring: opening %s's keyring: %w", opts.Service, errors.Join(errs...))
}

// list is the backends as "a, b or c".
func list(bs []Backend) string {
	s := make([]string, len(bs))
	for i, b := range bs {
		s[i] = string(b)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// config is the configuration of backend b for the keyring's service, with
// the file backend in dir.
func (k *Keyring) config(b Backend, dir string) kr.Config {
	c := kr.Config{
		AllowedBackends:          []kr.BackendType{kr.BackendType(b)},
		ServiceName:              string(k.service),
		KeychainTrustApplication: true,
		KeyCtlScope:              "user",
		FileDir:                  dir,
		// Called only inside an operation, under k.mu, after unlock
		// asked for the passphrase: the library never prompts itself.
		FilePasswordFunc: func(string) (string, error) {
			if k.pass == nil {
				return "", errors.New("no passphrase was asked for")
			}
			return *k.pass, nil
		},
		PassDir: k.opts.PassDir,
		PassCmd: k.opts.PassCmd,
	}
	if k.service == ServiceAWSVault {
		c.KeychainName = "aws-vault"
		c.LibSecretCollectionName = "awsvault"
		c.KWalletAppID, c.KWalletFolder = "aws-vault", "aws-vault"
		c.WinCredPrefix = "aws-vault"
	} else {
		c.LibSecretCollectionName = "stschain"
		c.KWalletAppID, c.KWalletFolder = "stschain", "stschain"
		c.WinCredPrefix = "stschain"
		c.PassPrefix = "stschain"
	}
	c.KeychainName = cmp.Or(k.opts.KeychainName, c.KeychainName)
	c.LibSecretCollectionName = cmp.Or(k.opts.SecretServiceCollection, c.LibSecretCollectionName)
	c.PassPrefix = cmp.Or(k.opts.PassPrefix, c.PassPrefix)
	return c
}

// Backend returns the backend the keyring uses.
func (k *Keyring) Backend() Backend { return k.backend }

// Service returns the program whose items the keyring holds.
func (k *Keyring) Service() Service { return k.service }

// Dir returns the file backend's directory, "" for another backend.
func (k *Keyring) Dir() string {
	if k.backend != BackendFile {
		return ""
	}
	return k.opts.FileDir
}

// String names the keyring: "stschain's keyring (file /home/u/.stschain/keys)".
func (k *Keyring) String() string {
	where := string(k.backend)
	if d := k.Dir(); d != "" {
		where += " " + d
	}
	return string(k.service) + "'s keyring (" + where + ")"
}

// GoString is String, so that %#v shows no passphrase either.
func (k *Keyring) GoString() string { return k.String() }

// Format prints String for every verb, %q quoting it.
func (k *Keyring) Format(f fmt.State, verb rune) { redact.Format(f, verb, k.String()) }

// LogValue is the keyring's service, backend and directory.
func (k *Keyring) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("service", string(k.service)), slog.String("backend", string(k.backend))}
	if d := k.Dir(); d != "" {
		attrs = append(attrs, slog.String("dir", d))
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON encodes the keyring's service, backend and directory.
func (k *Keyring) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Service Service
		Backend Backend
		Dir     string `json:",omitempty"`
	}{k.service, k.backend, k.Dir()})
}

// fail is the error of op on profile's item: what was done, on which
// item, and the cause.
func (k *Keyring) fail(op, profile string, err error) error {
	return fmt.Errorf("keyring: %s the keys of profile %s in %s: %w", op, strconv.Quote(profile), k, err)
}

// checkProfile refuses a name no profile has.
func checkProfile(profile string) error {
	if profile == "" || strings.IndexFunc(profile, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		return fmt.Errorf("keyring: profile name %q is empty or holds a control character", profile)
	}
	return nil
}

// Profiles returns the profiles whose keys the keyring holds, sorted. It
// reads no secret and asks for no passphrase. Of aws-vault's items it
// returns the profiles' keys only, not its sessions (items named
// "TYPE,PROFILE,SERIAL,EXPIRY" or in its older forms) or its SSO tokens
// ("oidc:URL").
func (k *Keyring) Profiles(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("keyring: listing %s: %w", k, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	names, err := k.names()
	if err != nil {
		return nil, fmt.Errorf("keyring: listing %s: %w", k, err)
	}
	var out []string
	for _, n := range names {
		if k.service != ServiceAWSVault || !awsVaultOther(n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// awsVaultOther reports whether name is an aws-vault item that holds no
// profile's keys: a session (aws-vault's vault/sessionkeyring.go names
// them "TYPE,PROFILE,SERIAL,EXPIRY", base64 inside, and named them
// "session,...", "session:...:...:..." and "PROFILE session (N)" before)
// or an SSO token ("oidc:START_URL").
func awsVaultOther(name string) bool {
	return strings.Contains(name, ",") || strings.HasPrefix(name, "oidc:") || strings.HasPrefix(name, "session:") ||
		(strings.HasSuffix(name, ")") && strings.Contains(name, " session ("))
}

// names lists the items of the backend; the file backend's directory is
// checked first, and one that does not exist holds none.
func (k *Keyring) names() ([]string, error) {
	if k.backend == BackendFile {
		exists, err := k.fileDir(false)
		if err != nil || !exists {
			return nil, err
		}
	}
	return k.ring.Keys()
}

// Has reports whether the keyring holds keys for profile, without reading
// them: no secret is read and no passphrase asked for.
func (k *Keyring) Has(ctx context.Context, profile string) (bool, error) {
	if err := checkProfile(profile); err != nil {
		return false, err
	}
	names, err := k.Profiles(ctx)
	return slices.Contains(names, profile), err
}

// Get returns the keys of profile. The file backend asks for its
// passphrase the first time. An error matches [ErrNotFound] when the
// keyring holds no keys for profile, [ErrWrongPassphrase] when the file
// backend cannot decrypt them, and [ErrInvalidItem] when the item is not a
// pair of long-term keys; it never holds a key or the passphrase.
func (k *Keyring) Get(ctx context.Context, profile string) (Keys, error) {
	if err := checkProfile(profile); err != nil {
		return Keys{}, err
	}
	if err := ctx.Err(); err != nil {
		return Keys{}, k.fail("reading", profile, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	keys, err := k.get(ctx, profile)
	if err != nil {
		return Keys{}, k.fail("reading", profile, err)
	}
	return keys, nil
}

func (k *Keyring) get(ctx context.Context, profile string) (Keys, error) {
	if k.backend == BackendFile {
		exists, err := k.fileDir(false)
		if err != nil {
			return Keys{}, err
		}
		if !exists {
			return Keys{}, &problem{ErrNotFound, "there are none"}
		}
		found, err := k.checkItem(profile)
		if err != nil {
			return Keys{}, err
		}
		if !found {
			return Keys{}, &problem{ErrNotFound, "there are none"}
		}
		if err := k.unlock(ctx, false); err != nil {
			return Keys{}, err
		}
	}
	item, err := k.ring.Get(profile)
	switch {
	case errors.Is(err, kr.ErrKeyNotFound):
		return Keys{}, &problem{ErrNotFound, "there are none"}
	case err != nil && k.backend == BackendFile && !errors.As(err, new(*fs.PathError)):
		// The file was read: the passphrase did not decrypt it. The
		// decoder's own message is left out.
		k.forgetPassphrase()
		return Keys{}, &problem{ErrWrongPassphrase, "the passphrase does not decrypt them (a wrong passphrase, or a damaged file)"}
	case err != nil:
		return Keys{}, err
	}
	return decodeItem(item.Data)
}

// Set stores keys as the keys of profile, replacing any the keyring held.
// It refuses keys [Keys.Validate] refuses, and aws-vault's keyring
// ([ErrReadOnly]). The file backend asks for its passphrase the first
// time, and refuses one that does not decrypt the items already in its
// directory ([ErrWrongPassphrase]), or an empty one.
func (k *Keyring) Set(ctx context.Context, profile string, keys Keys) error {
	if err := checkProfile(profile); err != nil {
		return err
	}
	if p := checkKeys(keys); p != "" {
		return k.fail("storing", profile, &problem{ErrInvalidKeys, p})
	}
	if k.service == ServiceAWSVault {
		return k.fail("storing", profile, &problem{ErrReadOnly, "aws-vault's keys are read, never changed: store them with aws-vault add, or in stschain's keyring"})
	}
	if err := ctx.Err(); err != nil {
		return k.fail("storing", profile, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.set(ctx, profile, keys); err != nil {
		return k.fail("storing", profile, err)
	}
	return nil
}

func (k *Keyring) set(ctx context.Context, profile string, keys Keys) error {
	if k.backend == BackendFile {
		if err := k.prepareFileSet(ctx, profile); err != nil {
			return err
		}
	}
	data, err := encodeItem(keys)
	if err != nil {
		return err
	}
	return k.ring.Set(kr.Item{
		Key:         profile,
		Data:        data,
		Label:       string(k.service) + " (" + profile + ")",
		Description: "AWS access keys of profile " + profile,
		// As aws-vault stores them: the Keychain asks before handing
		// them to any program, and never syncs them to other devices.
		KeychainNotTrustApplication: true,
		KeychainNotSynchronizable:   true,
	})
}

// prepareFileSet makes the file backend's directory ready for profile's
// item: created and checked, the passphrase asked for and checked against
// an item already there.
func (k *Keyring) prepareFileSet(ctx context.Context, profile string) error {
	if _, err := k.fileDir(true); err != nil {
		return err
	}
	if _, err := k.checkItem(profile); err != nil {
		return err
	}
	names, err := k.ring.Keys()
	if err != nil {
		return err
	}
	slices.Sort(names)
	if err := k.unlock(ctx, len(names) == 0); err != nil {
		return err
	}
	if *k.pass == "" {
		k.forgetPassphrase()
		return errors.New("the passphrase is empty: anyone who can read the files could decrypt them")
	}
	if len(names) == 0 {
		return nil
	}
	// One passphrase for every item: refuse one that does not open an
	// item already there.
	if _, err := k.get(ctx, names[0]); errors.Is(err, ErrWrongPassphrase) {
		return &problem{ErrWrongPassphrase, fmt.Sprintf("the passphrase does not decrypt the items already in %s (profile %s's, for one): give theirs", k.realDir, strconv.Quote(names[0]))}
	}
	return nil
}

// Remove deletes the keys of profile. An error matches [ErrNotFound] when
// the keyring holds none, and [ErrReadOnly] for aws-vault's keyring. It
// asks for no passphrase.
func (k *Keyring) Remove(ctx context.Context, profile string) error {
	if err := checkProfile(profile); err != nil {
		return err
	}
	if k.service == ServiceAWSVault {
		return k.fail("removing", profile, &problem{ErrReadOnly, "aws-vault's keys are read, never changed: remove them with aws-vault remove"})
	}
	if err := ctx.Err(); err != nil {
		return k.fail("removing", profile, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	names, err := k.names()
	if err == nil && !slices.Contains(names, profile) {
		err = &problem{ErrNotFound, "there are none"}
	}
	if err == nil && k.backend == BackendFile {
		_, err = k.checkItem(profile)
	}
	if err == nil {
		err = k.ring.Remove(profile)
	}
	if err != nil {
		return k.fail("removing", profile, err)
	}
	return nil
}

// fileDir resolves and checks the file backend's directory, creating it
// (mode 0700) when create is set. exists is false when it does not exist
// and create is not set.
func (k *Keyring) fileDir(create bool) (exists bool, err error) {
	if k.realDir == "" {
		if create {
			if err := os.MkdirAll(k.opts.FileDir, 0o700); err != nil {
				return false, fmt.Errorf("creating the directory: %w", err)
			}
		}
		real, err := filepath.EvalSymlinks(k.opts.FileDir)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		// The library works in the directory the links led to, which
		// is the one checked.
		ring, err := kr.Open(k.config(BackendFile, real))
		if err != nil {
			return false, err
		}
		k.ring, k.realDir = ring, real
	}
	if err := checkDir(k.realDir); err != nil {
		return false, &problem{ErrUnsafeFile, err.Error()}
	}
	return true, nil
}

// checkItem checks the file of profile's item, when there is one.
func (k *Keyring) checkItem(profile string) (found bool, err error) {
	path := filepath.Join(k.realDir, percent.Encode(profile, "/")) // the library's file name
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := checkFile(path, fi); err != nil {
		return false, &problem{ErrUnsafeFile, err.Error()}
	}
	return true, nil
}

// unlock asks for the file backend's passphrase, once.
func (k *Keyring) unlock(ctx context.Context, create bool) error {
	if k.pass != nil {
		return nil
	}
	if k.opts.Passphrase == nil {
		return errors.New("the file backend needs a passphrase, and Options.Passphrase is nil")
	}
	pass, err := k.opts.Passphrase(ctx, k.realDir, create)
	if err != nil {
		return fmt.Errorf("asking for the passphrase: %w", err)
	}
	k.pass = &pass
	return nil
}

// forgetPassphrase drops a passphrase that did not work, so that the next
// operation asks again; the library's own copy goes with its keyring.
func (k *Keyring) forgetPassphrase() {
	k.pass = nil
	if ring, err := kr.Open(k.config(BackendFile, k.realDir)); err == nil {
		k.ring = ring
	}
}

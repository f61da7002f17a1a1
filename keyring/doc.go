// Package keyring keeps the long-term AWS access keys of profiles in the
// operating system's keyring instead of ~/.aws/credentials, through
// github.com/99designs/keyring, the library aws-vault uses: the macOS
// Keychain, the Windows Credential Manager, the Secret Service (GNOME
// Keyring, KeePassXC), KWallet, pass, the Linux kernel's keyctl, and files
// encrypted with a passphrase for headless machines.
//
//	k, err := keyring.Open(keyring.Options{Backend: keyring.BackendSecretService})
//	if err != nil { ... }
//	err = k.Set(ctx, "alice", keyring.NewKeys(id, secret))
//
// A [Keyring] is one program's items in one backend, an item per profile.
// [Keyring.Provider] is an aws.CredentialsProvider of a profile's keys, and
// [Lookup] finds a profile's keys in the first of several keyrings, in the
// form package awsprofile's Options.Keys takes, so that a profile with no
// keys in the files uses the keyring's.
//
// # aws-vault's keys
//
// [ServiceAWSVault] reads the items aws-vault stored, so that its users
// switch without entering a key again: its service name ("aws-vault"), its
// collections, folders and prefixes, and its file directory
// (~/.awsvault/keys, with its own passphrase). Its items and stschain's
// have one format, the JSON aws-vault writes (json.Marshal of an
// aws.Credentials: AccessKeyID, SecretAccessKey ...), so each program can
// read the other's. aws-vault's items are read, never written or removed.
// The maintained fork of aws-vault stores them the same way.
//
// # The file backend
//
// Items are files, one per profile, encrypted with a key derived from a
// passphrase (JWE: PBES2-HS256+A128KW and A256GCM). [Options.Passphrase] is
// asked for it when an item is first read or written, never to list the
// profiles or to find out whether one has keys; a passphrase that does not
// decrypt the items already there is refused, and so is an empty one when
// storing. On Unix the directory must belong to the user running the
// program and be writable by nobody else, like the directories above it,
// and an item file must be a regular file of that user's that nobody else
// can write, or it is not used ([ErrUnsafeFile]).
//
// # Secrets
//
// No error of the package, and no fmt verb, log/slog value or JSON
// encoding of [Keys], [Keyring] or [Provider], holds a secret access key
// or a passphrase; [Keys] shows the last four characters of the access key
// ID, as "aws configure list" does. The package reads no environment
// variable ([DefaultFileDir] reads the home directory when called) and
// prompts for nothing itself: the caller's [PassphraseFunc] does.
//
// github.com/99designs/keyring connects to the D-Bus session bus when the
// program starts, to find out whether the Secret Service and KWallet are
// there: importing this package costs that much at init.
package keyring

package stschain

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/stschain/stschain/internal/clicache"
	"github.com/stschain/stschain/internal/stslimits"
)

// FileCache is a [Cache] and [CacheLocker] that keeps each entry in its own
// file, <key>.json, in one directory, in the format of the AWS CLI's cache
// (botocore's JSONFileCache): pointed at [DefaultCLICacheDir] it shares
// assume-role sessions with the AWS CLI in both directions. Entries are
// written atomically with mode 0600; the lock of a key is an flock(2) on
// <key>.lock, which the operating system releases when its holder exits, so
// a crashed process never leaves a key locked.
//
// A FileCache trusts nothing another local user could have written. On
// Unix, [NewFileCache] refuses a directory that is not the effective user's
// own or that others could write or replace. Load, Store and Lock use only
// regular files owned by the effective user, not writable by group or
// others, with a single link; they open them without following symbolic
// links and without blocking, so that a link, FIFO or device planted in the
// directory is refused with an error saying what it is, and never hangs
// them. Load also refuses an entry that STS could not have issued: one whose
// Expiration lies further ahead than the longest session STS grants (12
// hours, AssumeRole's longest, for an entry with an AssumedRoleUser; 36
// hours, GetSessionToken's longest, for one without; plus five minutes for
// clocks that disagree), one whose access key ID is not 16 to 128
// upper-case letters and digits or whose secret key or session token
// holds a character outside the base64 alphabet (which a shell or an HTTP
// header could interpret), and one whose account ID and AssumedRoleUser
// name different accounts. Load cannot tell which role a key was computed from:
// whoever uses an AssumeRole entry checks that its AssumedRoleUser is a
// session of that role. On other systems FileCache refuses what is not a
// regular file and leaves owners and permissions to the system's access
// control lists.
//
// In a directory this user cannot write (a read-only mount, say), Load
// works, and Lock and Store fail at once with an error that says so.
//
// A FileCache is safe for concurrent use by goroutines and processes.
type FileCache struct {
	dir *clicache.Dir // immutable after NewFileCache
}

var (
	_ Cache       = (*FileCache)(nil)
	_ CacheLocker = (*FileCache)(nil)
)

// fileCacheClockSkew is how far the clock of this host may be behind STS's
// before an entry at the longest session STS grants counts as too long:
// that is how far SigV4 lets a signing clock be off.
const fileCacheClockSkew = 5 * time.Minute

// NewFileCache returns a FileCache keeping its files in dir, which it creates
// with mode 0700 (and any missing parents) when it does not exist. dir is
// taken literally: no "~" or environment variable is expanded. A relative
// dir is made absolute against the working directory now, and symbolic
// links in dir are resolved now: the FileCache keeps working in the
// directory they led to.
//
// On Unix that directory must belong to the effective user and be writable
// by nobody else, and each directory above it must belong to the effective
// user or root and be writable by nobody else unless it is sticky (as /tmp
// is); otherwise another user could plant sessions for this one to use.
// NewFileCache changes no permission: it fails with an error that says what
// is wrong and how to fix it (for example "chmod go-w DIR"). It also removes
// temporary files that a killed process left behind more than a minute ago.
func NewFileCache(dir string) (*FileCache, error) {
	if dir == "" {
		return nil, errorf("NewFileCache: dir is empty; pass the cache directory, for example from DefaultCLICacheDir")
	}
	d, err := clicache.OpenDir(dir)
	if err != nil {
		return nil, wrapError(err, "NewFileCache")
	}
	return &FileCache{dir: d}, nil
}

// DefaultCLICacheDir returns the AWS CLI's cache directory,
// $HOME/.aws/cli/cache. Unlike the rest of the package it reads the
// environment (through [os.UserHomeDir]), which is why it is a helper the
// caller chooses to call rather than a default.
func DefaultCLICacheDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", wrapError(err, "finding the AWS CLI cache directory")
	}
	return filepath.Join(home, ".aws", "cli", "cache"), nil
}

// Load returns the entry stored under key. A missing file is a miss with a
// nil error, and so is an entry whose Expiration has passed. A file that
// FileCache does not trust, cannot read, or that is not a cache entry
// (corrupt, truncated, another shape, missing keys), or an entry STS could
// not have issued (credentials of a shape STS does not issue, an
// expiration later than it grants), is a miss with an error saying what
// is wrong, which wraps [ErrMalformedResponse] when the file's content is
// at fault; the error never holds a credential. The entry's Credentials have CanExpire set and
// AccountID taken from the AssumedRoleUser ARN (or the CLI's AccountId);
// Source is left empty. Load returns ctx's error if ctx has ended.
func (c *FileCache) Load(ctx context.Context, key string) (CacheEntry, bool, error) {
	data, err := c.dir.ReadEntry(ctx, key)
	if errors.Is(err, fs.ErrNotExist) {
		return CacheEntry{}, false, nil
	}
	if err != nil {
		return CacheEntry{}, false, wrapError(err, "reading cache entry")
	}
	path := filepath.Join(c.dir.Path(), key+".json")
	creds, user, err := clicache.Decode(data)
	if err != nil {
		return CacheEntry{}, false, wrapError(malformedError{err}, "cache entry %s is unusable", path)
	}
	now := time.Now()
	if !creds.Expires.After(now) {
		return CacheEntry{}, false, nil
	}
	longest, op := stslimits.MaxGetSessionTokenDuration, "GetSessionToken"
	if user != nil {
		longest, op = stslimits.MaxAssumeRoleDuration, "AssumeRole"
	}
	if creds.Expires.After(now.Add(longest + fileCacheClockSkew)) {
		return CacheEntry{}, false, wrapError(malformedError{fmt.Errorf("it expires at %s, more than %v from now, but STS grants %s sessions of %v at most",
			creds.Expires.UTC().Format(time.RFC3339), longest, op, longest)}, "cache entry %s is unusable", path)
	}
	return CacheEntry{Credentials: creds, AssumedRoleUser: user}, true, nil
}

// Store writes entry under key, replacing any earlier entry atomically: the
// file is written under a temporary name in the same directory, synced and
// renamed, so a reader sees the old entry or the new one, never part of one.
// The entry needs an access key, secret key, session token and Expires.
// Store returns ctx's error, writing nothing, if ctx has ended.
func (c *FileCache) Store(ctx context.Context, key string, entry CacheEntry) error {
	data, err := clicache.Encode(entry.Credentials, entry.AssumedRoleUser)
	if err != nil {
		return errorf("%w", err)
	}
	if err := c.dir.WriteEntry(ctx, key, data); err != nil {
		return wrapError(err, "writing cache entry")
	}
	return nil
}

// Lock takes the lock of key, an exclusive flock(2) on <key>.lock in the
// cache directory, trying again every few milliseconds until it is free.
// It stops waiting, with an error, when ctx ends, and when the holder has
// shown no sign of life for 10 seconds (clicache.LockStale): a holder
// touches the lock file every few seconds while it holds the lock, for as
// long as its refresh takes, an MFA prompt included, so that a hung or
// stopped holder, or a program that holds the flock without touching the
// file, costs a waiter seconds rather than its whole context. The caller
// then goes on without the lock. The lock excludes other processes and,
// since every call opens the file afresh, other goroutines of this process
// too. The lock file is created with mode 0600 if missing, never through a
// symbolic link, and is left in place. The returned function releases the
// lock; calling it again does nothing.
func (c *FileCache) Lock(ctx context.Context, key string) (unlock func(), err error) {
	unlock, err = c.dir.Lock(ctx, key)
	if err != nil {
		return nil, wrapError(err, "locking cache key")
	}
	return unlock, nil
}

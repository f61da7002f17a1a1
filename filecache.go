package stschain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"github.com/stschain/stschain/internal/clicache"
)

// FileCache is a [Cache] and [CacheLocker] that keeps each entry in its own
// file, <key>.json, in one directory, in the format of the AWS CLI's cache
// (botocore's JSONFileCache): pointed at [DefaultCLICacheDir] it shares
// assume-role sessions with the AWS CLI in both directions. Entries are
// written atomically with mode 0600; the lock of a key is an flock(2) on
// <key>.lock, which the operating system releases when its holder exits, so
// a crashed process never leaves a key locked.
//
// A FileCache is safe for concurrent use by goroutines and processes.
type FileCache struct {
	dir string // absolute; immutable after NewFileCache
}

var (
	_ Cache       = (*FileCache)(nil)
	_ CacheLocker = (*FileCache)(nil)
)

// Tuning of FileCache.
const (
	// fileCacheLockRetry is how often Lock tries again a lock another
	// process or goroutine holds.
	fileCacheLockRetry = 20 * time.Millisecond
)

// cacheKeyRe is what a key may be, so that it never names a file outside
// the cache directory.
var cacheKeyRe = regexp.MustCompile(`^[0-9A-Za-z_-]{1,200}$`)

// NewFileCache returns a FileCache keeping its files in dir, which it creates
// with mode 0700 (and any missing parents) when it does not exist; an
// existing directory is used as it is. dir is taken literally: no "~" or
// environment variable is expanded. A relative dir is made absolute against
// the working directory now.
func NewFileCache(dir string) (*FileCache, error) {
	if dir == "" {
		return nil, errors.New("stschain: NewFileCache: dir is empty; pass the cache directory, for example from DefaultCLICacheDir")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("stschain: NewFileCache: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("stschain: NewFileCache: creating the cache directory: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("stschain: NewFileCache: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("stschain: NewFileCache: %s is not a directory", abs)
	}
	return &FileCache{dir: abs}, nil
}

// DefaultCLICacheDir returns the AWS CLI's cache directory,
// $HOME/.aws/cli/cache. Unlike the rest of the package it reads the
// environment (through [os.UserHomeDir]), which is why it is a helper the
// caller chooses to call rather than a default.
func DefaultCLICacheDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("stschain: finding the AWS CLI cache directory: %w", err)
	}
	return filepath.Join(home, ".aws", "cli", "cache"), nil
}

// Load returns the entry stored under key. A missing file is a miss with a
// nil error, and so is an entry whose Expiration has passed. A file that
// cannot be read or is not a cache entry (corrupt, truncated, another shape,
// missing keys) is a miss with an error saying what is wrong; the error never
// holds a credential. The entry's Credentials have CanExpire set and
// AccountID taken from the AssumedRoleUser ARN (or the CLI's AccountId);
// Source is left empty.
func (c *FileCache) Load(ctx context.Context, key string) (CacheEntry, bool, error) {
	path, err := c.path(key, ".json")
	if err != nil {
		return CacheEntry{}, false, err
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return CacheEntry{}, false, nil
	}
	if err != nil {
		return CacheEntry{}, false, fmt.Errorf("stschain: reading cache entry: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, clicache.MaxFileSize+1))
	if err != nil {
		return CacheEntry{}, false, fmt.Errorf("stschain: reading cache entry: %w", err)
	}
	if len(data) > clicache.MaxFileSize {
		return CacheEntry{}, false, fmt.Errorf("stschain: cache entry %s is larger than %d bytes: not a cache entry", path, clicache.MaxFileSize)
	}
	creds, user, err := clicache.Decode(data)
	if err != nil {
		return CacheEntry{}, false, fmt.Errorf("stschain: cache entry %s is unusable: %w", path, err)
	}
	if !creds.Expires.After(time.Now()) {
		return CacheEntry{}, false, nil
	}
	return CacheEntry{Credentials: creds, AssumedRoleUser: user}, true, nil
}

// Store writes entry under key, replacing any earlier entry atomically: the
// file is written under a temporary name in the same directory, synced and
// renamed, so a reader sees the old entry or the new one, never part of one.
// The entry needs an access key, secret key, session token and Expires.
func (c *FileCache) Store(ctx context.Context, key string, entry CacheEntry) error {
	path, err := c.path(key, ".json")
	if err != nil {
		return err
	}
	data, err := clicache.Encode(entry.Credentials, entry.AssumedRoleUser)
	if err != nil {
		return fmt.Errorf("stschain: %w", err)
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("stschain: creating the cache directory: %w", err)
	}
	return writeFileAtomic(path, data)
}

// writeFileAtomic writes data to a new temporary file (mode 0600) beside
// path and renames it to path.
func writeFileAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("stschain: writing cache entry: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes the file 0600 already; Chmod says so explicitly and
	// holds on systems where it does not.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("stschain: writing cache entry: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("stschain: writing cache entry: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("stschain: writing cache entry: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("stschain: writing cache entry: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("stschain: writing cache entry: %w", err)
	}
	return nil
}

// Lock takes the lock of key, an exclusive flock(2) on <key>.lock in the
// cache directory, trying again every few milliseconds until it is free or
// ctx ends. The lock excludes other processes and, since every call opens
// the file afresh, other goroutines of this process too. The lock file is
// left in place. The returned function releases the lock; calling it again
// does nothing.
func (c *FileCache) Lock(ctx context.Context, key string) (unlock func(), err error) {
	path, err := c.path(key, ".lock")
	if err != nil {
		return nil, err
	}
	fl := flock.New(path, flock.SetPermissions(0o600))
	ok, err := fl.TryLockContext(ctx, fileCacheLockRetry)
	if err != nil {
		return nil, fmt.Errorf("stschain: locking cache key %s: %w", key, err)
	}
	if !ok { // cannot happen: TryLockContext returns an error instead
		return nil, fmt.Errorf("stschain: locking cache key %s: lock not taken", key)
	}
	var once sync.Once
	return func() { once.Do(func() { _ = fl.Unlock() }) }, nil
}

// path returns the file of key with ext, or an error when key could name a
// file outside the directory.
func (c *FileCache) path(key, ext string) (string, error) {
	if !cacheKeyRe.MatchString(key) {
		return "", fmt.Errorf("stschain: invalid cache key %q: want 1 to 200 characters of letters, digits, '_' and '-'", key)
	}
	return filepath.Join(c.dir, key+ext), nil
}

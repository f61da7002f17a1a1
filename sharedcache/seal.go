package sharedcache

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/stschain/stschain"
	"github.com/stschain/stschain/internal/redact"
)

// KeySize is the length of a sealing key, in bytes: an AES-256 key.
const KeySize = 32

// MaxValueSize bounds the values [Sealer.Open] accepts: a sealed entry is a
// few KiB. A store reads at most this many bytes plus one of a value, so
// that a value planted larger costs a bounded read and is refused.
const MaxValueSize = 64 << 10

// StampSize is the length of a value's stamp: its first bytes, which differ
// between any two values Seal returns (see [Stamp]).
const StampSize = 1 + keyIDSize + nonceSize

// The value format.
//
// A value is
//
//	version (1 byte, 2) | key ID (4 bytes) | nonce (12 bytes) | ciphertext | GCM tag (16 bytes)
//
// sealed with AES-256-GCM under a random nonce, with the version byte, the
// key ID and the value's name as additional data: a value copied under
// another name does not open, nor does one whose header was changed. The
// key ID names the key that sealed the value, so that a reader holding
// several keys tries the right one. The plaintext is the JSON of
// sealedEntry.
//
// Version 1 values, which the first rediscache wrote, have no key ID:
// version (1) | nonce | ciphertext | tag, with the version byte and the
// name as additional data. They are read, under any key, and never
// written.
const (
	formatV1  byte = 1
	formatV2  byte = 2
	keyIDSize      = 4
	nonceSize      = 12 // AES-GCM's standard nonce
)

// maxNames bounds the names whose newest entry a Sealer remembers before
// it forgets those whose credentials have expired.
const maxNames = 1024

// sealedEntry is the plaintext of a value.
type sealedEntry struct {
	AccessKeyID     string      `json:"AccessKeyId"`
	SecretAccessKey string      `json:"SecretAccessKey"`
	SessionToken    string      `json:"SessionToken"`
	Expires         time.Time   `json:"Expiration"`
	AccountID       string      `json:"AccountId,omitempty"`
	AssumedRoleUser *sealedUser `json:"AssumedRoleUser,omitempty"`
	// Replaces is the access key ID of the session the sealing process
	// had seen under the same name when it sealed this one: the session
	// this one replaced.
	Replaces string `json:"Replaces,omitempty"`
}

type sealedUser struct {
	Arn           string `json:"Arn"`
	AssumedRoleID string `json:"AssumedRoleId"`
}

// sealingKey is one AES-256-GCM key and its ID.
type sealingKey struct {
	id   [keyIDSize]byte
	aead cipher.AEAD // random nonces
}

// seen is what a Sealer knows of the sessions under a name.
type seen struct {
	newest     string    // access key ID of the newest session
	floor      time.Time // the latest expiry of any session seen
	superseded []string  // access key IDs of sessions replaced since, the last maxSuperseded
}

// maxSuperseded bounds seen.superseded.
const maxSuperseded = 4

// Sealer seals [stschain.CacheEntry] values for a shared store and opens
// them again, as [Cache] implementations for Redis, DynamoDB, etcd or
// memcached need: AES-256-GCM under a key every process of a fleet shares,
// with the value's name (its key in the store) as additional data, so that
// the store and whoever reads it (its replies, dumps, backups and
// replicas) sees no secret, and a value copied under another name does not
// open.
//
// Each value carries the ID of the key that sealed it. A Sealer seals with
// its current key and opens values sealed with it or with any of its
// previous keys, so that a key changes across a fleet in two rolling steps
// without a miss: first give every process the new key as a previous key,
// then make it the current key (keeping the old one as a previous key
// until every value sealed with it has expired).
//
// A Sealer also refuses rollbacks. Each value says which session it
// replaced (the one its sealer had seen under the name). A Sealer
// remembers, per name, the newest session it has sealed or opened, the
// latest expiry seen and the last sessions replaced since, and opens a
// session only if it is the newest, says it replaced the newest (a
// session may expire earlier than the one it replaced), or expires no
// earlier than any seen and was not replaced. So a peer with write access
// to the store but not the key cannot hand this process a session older
// than one it has seen, such as one revoked and replaced since. A process
// that has seen neither cannot tell them apart.
//
// A Sealer is safe for concurrent use. Create one with [NewSealer].
//
// [Cache]: https://pkg.go.dev/github.com/stschain/stschain#Cache
type Sealer struct {
	keys []sealingKey // the current key first, then the previous ones; read-only

	mu     sync.Mutex
	newest map[string]seen // guarded by mu: per name, the newest session sealed or opened
}

// NewSealer returns a Sealer that seals with key and opens values sealed
// with key or any of previous. Every key must be [KeySize] (32) random
// bytes. NewSealer keeps no copy of the keys (only the AES key schedules
// derived from them), so the caller may clear them afterwards.
func NewSealer(key []byte, previous ...[]byte) (*Sealer, error) {
	var errs []error
	if err := checkKey("the key", key); err != nil {
		errs = append(errs, err)
	}
	for i, p := range previous {
		what := fmt.Sprintf("previous key %d", i)
		if err := checkKey(what, p); err != nil {
			errs = append(errs, err)
		} else if hmac.Equal(p, key) {
			errs = append(errs, fmt.Errorf("%s is the key itself; give only keys values may have been sealed with other than the key", what))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s := &Sealer{newest: make(map[string]seen)}
	for _, k := range append([][]byte{key}, previous...) {
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, sealingKey{id: keyID(k), aead: aead})
	}
	return s, nil
}

func checkKey(what string, key []byte) error {
	switch {
	case len(key) != KeySize:
		return fmt.Errorf("%s is %d bytes; AES-256-GCM needs exactly %d (random bytes, such as from crypto/rand, kept in a secret store)", what, len(key), KeySize)
	case allZero(key):
		return fmt.Errorf("%s is all zero bytes; fill it with random bytes, such as from crypto/rand", what)
	}
	return nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// keyID names key in the values it seals: the start of an HMAC of a fixed
// label under the key, which says nothing of the key.
func keyID(key []byte) [keyIDSize]byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("stschain sharedcache key ID"))
	var id [keyIDSize]byte
	copy(id[:], m.Sum(nil))
	return id
}

// KeyID returns the ID of the current key, as values sealed with it carry
// it, in hex: what to compare across a fleet to see which processes have
// the same key. It says nothing of the key.
func (s *Sealer) KeyID() string { return fmt.Sprintf("%x", s.keys[0].id) }

// additionalData binds a value to its header and name.
func additionalData(header []byte, name string) []byte {
	return append(append([]byte(nil), header...), name...)
}

// Seal returns the value of e under name, sealed with the current key. The
// value records the session this process had seen under name before (the
// one e replaces), and e becomes the newest session seen under name unless
// a later one was seen. The entry needs an access key, secret key, session
// token and expiry.
func (s *Sealer) Seal(name string, e stschain.CacheEntry) ([]byte, error) {
	cr := e.Credentials
	if missing := missingFields(cr.AccessKeyID, cr.SecretAccessKey, cr.SessionToken, cr.Expires, "AccessKeyID", "SecretAccessKey", "SessionToken", "Expires"); missing != "" {
		return nil, fmt.Errorf("cannot seal credentials without %s", missing)
	}
	se := sealedEntry{
		AccessKeyID:     cr.AccessKeyID,
		SecretAccessKey: cr.SecretAccessKey,
		SessionToken:    cr.SessionToken,
		Expires:         cr.Expires.UTC(),
		AccountID:       cr.AccountID,
	}
	if u := e.AssumedRoleUser; u != nil {
		se.AssumedRoleUser = &sealedUser{Arn: aws.ToString(u.Arn), AssumedRoleID: aws.ToString(u.AssumedRoleId)}
	}
	s.mu.Lock()
	if prev, ok := s.newest[name]; ok && prev.newest != cr.AccessKeyID {
		se.Replaces = prev.newest
	}
	s.sawLocked(name, cr.AccessKeyID, cr.Expires)
	s.mu.Unlock()
	plain, err := json.Marshal(se)
	if err != nil {
		return nil, fmt.Errorf("encoding the entry: %w", err)
	}
	k := s.keys[0]
	header := append([]byte{formatV2}, k.id[:]...)
	out := make([]byte, len(header), len(header)+k.aead.NonceSize()+k.aead.Overhead()+len(plain))
	copy(out, header)
	return k.aead.Seal(out, nil, plain, additionalData(header, name)), nil
}

// Stamp returns the stamp of a value: its first [StampSize] bytes (format,
// key ID and random nonce), which differ between any two values Seal
// returns. A process waiting for another's result watches the stamp of the
// value under the name, which a store reads without the rest of the value.
// A value shorter than StampSize is its own stamp; no value is "".
func Stamp(val []byte) string { return string(val[:min(len(val), StampSize)]) }

// Open returns the entry that val, read under name, holds. Its errors say
// what is wrong (the value is empty, too large, of another format, sealed
// with a key this Sealer lacks, changed, truncated, copied from another
// name, malformed, expired, or older than a session seen under name),
// never what the value holds. An entry it returns becomes the newest seen
// under name unless a later one was seen.
func (s *Sealer) Open(name string, val []byte) (stschain.CacheEntry, error) {
	plain, err := s.decrypt(name, val)
	if err != nil {
		return stschain.CacheEntry{}, err
	}
	var se sealedEntry
	if err := json.Unmarshal(plain, &se); err != nil {
		// The plaintext holds secrets: say where it is wrong, not what
		// is there.
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return stschain.CacheEntry{}, fmt.Errorf("the sealed entry is not valid JSON (error at byte %d of %d)", syn.Offset, len(plain))
		}
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return stschain.CacheEntry{}, fmt.Errorf("the sealed entry is malformed: %s is a JSON %s", typ.Field, typ.Value)
		}
		return stschain.CacheEntry{}, errors.New("the sealed entry is malformed")
	}
	if missing := missingFields(se.AccessKeyID, se.SecretAccessKey, se.SessionToken, se.Expires, "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"); missing != "" {
		return stschain.CacheEntry{}, fmt.Errorf("the sealed entry has no %s", missing)
	}
	if now := time.Now(); !se.Expires.After(now) {
		return stschain.CacheEntry{}, fmt.Errorf("its credentials expired at %s, %v ago, yet the store still has it",
			se.Expires.UTC().Format(time.RFC3339), now.Sub(se.Expires).Round(time.Millisecond))
	}
	if err := s.checkNewest(name, se); err != nil {
		return stschain.CacheEntry{}, err
	}
	entry := stschain.CacheEntry{Credentials: aws.Credentials{
		AccessKeyID:     se.AccessKeyID,
		SecretAccessKey: se.SecretAccessKey,
		SessionToken:    se.SessionToken,
		CanExpire:       true,
		Expires:         se.Expires,
		AccountID:       se.AccountID,
	}}
	if u := se.AssumedRoleUser; u != nil {
		entry.AssumedRoleUser = &types.AssumedRoleUser{Arn: aws.String(u.Arn), AssumedRoleId: aws.String(u.AssumedRoleID)}
	}
	return entry, nil
}

// decrypt returns the plaintext of val.
func (s *Sealer) decrypt(name string, val []byte) ([]byte, error) {
	switch {
	case len(val) == 0:
		return nil, errors.New("the value is empty")
	case len(val) > MaxValueSize:
		return nil, fmt.Errorf("the value is over %d bytes, more than an entry can be", MaxValueSize)
	}
	const doesNotOpen = "the value does not open: it was sealed with another key, changed, truncated, or copied from another key name"
	switch val[0] {
	case formatV2:
		if minLen := 1 + keyIDSize + s.keys[0].aead.Overhead(); len(val) < minLen {
			return nil, fmt.Errorf("the value is %d bytes, shorter than any sealed entry (%d): truncated", len(val), minLen)
		}
		header := val[:1+keyIDSize]
		known := false
		for _, k := range s.keys {
			if [keyIDSize]byte(header[1:]) != k.id {
				continue
			}
			known = true
			if plain, err := k.aead.Open(nil, nil, val[len(header):], additionalData(header, name)); err == nil {
				return plain, nil
			}
		}
		if !known {
			return nil, fmt.Errorf("the value was sealed with a key this process does not have (key ID %x; this process seals with %s): give every process of the fleet the same keys", header[1:], s.KeyID())
		}
		return nil, errors.New(doesNotOpen)
	case formatV1:
		if minLen := 1 + s.keys[0].aead.Overhead(); len(val) < minLen {
			return nil, fmt.Errorf("the value is %d bytes, shorter than any sealed entry (%d): truncated", len(val), minLen)
		}
		for _, k := range s.keys {
			if plain, err := k.aead.Open(nil, nil, val[1:], additionalData(val[:1], name)); err == nil {
				return plain, nil
			}
		}
		return nil, errors.New(doesNotOpen)
	}
	return nil, fmt.Errorf("the value does not start with format version %d or %d (its first byte is 0x%02x): it was not written by this package, or by a later version of it", formatV2, formatV1, val[0])
}

// checkNewest refuses se unless it is the newest session seen under name,
// says it replaced it, or expires no earlier than any seen and was not
// replaced; and records it.
func (s *Sealer) checkNewest(name string, se sealedEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.newest[name]
	switch {
	case !ok, se.AccessKeyID == prev.newest, se.Replaces == prev.newest:
	case slices.Contains(prev.superseded, se.AccessKeyID):
		return errors.New("it holds a session that another has replaced since, as this process has seen: a rollback, refused")
	case se.Expires.Before(prev.floor):
		return fmt.Errorf("it holds an older session (expiring at %s) than one this process has seen under this name (expiring at %s): a rollback, refused",
			se.Expires.UTC().Format(time.RFC3339), prev.floor.UTC().Format(time.RFC3339))
	}
	s.sawLocked(name, se.AccessKeyID, se.Expires)
	return nil
}

// sawLocked records the session accessKeyID, which expires at expires, as
// the newest under name. s.mu is held.
func (s *Sealer) sawLocked(name, accessKeyID string, expires time.Time) {
	prev, ok := s.newest[name]
	if ok && prev.newest == accessKeyID {
		return
	}
	if !ok && len(s.newest) >= maxNames {
		now := time.Now()
		for n, v := range s.newest {
			if !v.floor.After(now) {
				delete(s.newest, n)
			}
		}
	}
	next := seen{newest: accessKeyID, floor: expires, superseded: prev.superseded}
	if ok {
		next.floor = maxTime(prev.floor, expires)
		next.superseded = append(slices.Clone(prev.superseded), prev.newest)
		if n := len(next.superseded); n > maxSuperseded {
			next.superseded = next.superseded[n-maxSuperseded:]
		}
	}
	s.newest[name] = next
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// missingFields names the fields that are empty or zero.
func missingFields(accessKeyID, secret, token string, expires time.Time, names ...string) string {
	var missing []string
	for i, set := range []bool{accessKeyID != "", secret != "", token != "", !expires.IsZero()} {
		if !set {
			missing = append(missing, names[i])
		}
	}
	return strings.Join(missing, ", ")
}

// String describes the Sealer by its key IDs, which say nothing of the
// keys.
func (s *Sealer) String() string {
	return fmt.Sprintf("sharedcache.Sealer{key ID %s, %d previous keys}", s.KeyID(), len(s.keys)-1)
}

// Format writes String for every verb, %q quoting it, so that no verb
// prints the ciphers.
func (s *Sealer) Format(f fmt.State, verb rune) { redact.Format(f, verb, s.String()) }

// LogValue is String, so that log/slog shows no key either.
func (s *Sealer) LogValue() slog.Value { return slog.StringValue(s.String()) }

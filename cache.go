package stschain

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/stschain/stschain/internal/credcheck"
	"github.com/stschain/stschain/internal/redact"
)

// CacheEntry is one STS response as a [Cache] keeps it.
type CacheEntry struct {
	// Credentials are the temporary credentials, with Expires set.
	Credentials aws.Credentials
	// AssumedRoleUser is the session's identity, for AssumeRole links; nil
	// for GetSessionToken links.
	AssumedRoleUser *types.AssumedRoleUser
}

// String describes the entry without its secret key or session token, and
// without an access key ID of a shape AWS does not issue, which could be
// built to mislead whoever reads it.
func (e CacheEntry) String() string {
	id := e.Credentials.AccessKeyID
	if !credcheck.AccessKeyID(id) {
		id = "(malformed access key ID)"
	}
	s := "stschain.CacheEntry{" + id
	if e.Credentials.CanExpire {
		s += " expires " + e.Credentials.Expires.UTC().Format(time.RFC3339)
	}
	if e.AssumedRoleUser != nil {
		s += " " + aws.ToString(e.AssumedRoleUser.Arn)
	}
	return s + "}"
}

// Format prints String() for every verb, so that no verb (%+v, %#v, %d,
// %x ...) prints the secret key or the session token.
func (e CacheEntry) Format(f fmt.State, verb rune) { redact.Format(f, verb, e.String()) }

// LogValue is String, so that log/slog shows no secret either.
func (e CacheEntry) LogValue() slog.Value { return slog.StringValue(e.String()) }

// MarshalJSON encodes what String shows: the access key ID (when it has
// the shape AWS issues), the expiry and the assumed role's ARN, never the
// secret key or the session token. A Cache that keeps entries as JSON
// encodes the credentials' fields itself, as FileCache does.
func (e CacheEntry) MarshalJSON() ([]byte, error) {
	v := struct {
		AccessKeyID    string
		Expires        *time.Time `json:",omitempty"`
		AssumedRoleArn string     `json:",omitempty"`
	}{AccessKeyID: e.Credentials.AccessKeyID}
	if !credcheck.AccessKeyID(v.AccessKeyID) {
		v.AccessKeyID = "(malformed access key ID)"
	}
	if e.Credentials.CanExpire {
		t := e.Credentials.Expires.UTC()
		v.Expires = &t
	}
	if e.AssumedRoleUser != nil {
		v.AssumedRoleArn = aws.ToString(e.AssumedRoleUser.Arn)
	}
	return json.Marshal(v)
}

// Cache keeps credentials beyond one provider's memory: across providers,
// processes and restarts. Keys are lower-case hex strings safe as file names.
// Implementations must be safe for concurrent use.
type Cache interface {
	// Load returns the entry stored under key. ok is false on a miss; err,
	// when not nil, says why a stored entry could not be used (it is logged,
	// and the load counts as a miss).
	Load(ctx context.Context, key string) (entry CacheEntry, ok bool, err error)
	// Store saves entry under key, replacing any earlier one. A failure is
	// logged; the provider goes on without the cache.
	Store(ctx context.Context, key string, entry CacheEntry) error
}

// CacheLocker is implemented by a [Cache] shared between processes. The
// provider holds the key's lock while it checks the cache, calls STS and
// stores the result, so that of many processes refreshing the same key only
// one calls STS (and prompts for MFA) while the others wait for its result.
// A lock that cannot be had (an unwritable directory, a server that is
// down) is logged, and the provider goes on without it.
type CacheLocker interface {
	// Lock blocks until the lock for key is held, and returns the function
	// that releases it; calling that function again does nothing.
	//
	// Lock may also return, without the lock, a function that does nothing
	// and a nil error once the holder's new entry is in the store (as
	// rediscache's Lock does when it sees the session change): the caller
	// then Loads the entry, and takes it if it is fresh.
	//
	// The caller bounds the wait with ctx: Lock returns ctx's error when
	// ctx ends first, and the caller goes on without the lock. A provider
	// gives a context that ends when the wait has lasted longer than a
	// refresh takes (10 s; 2 minutes with an MFA device), or earlier, when
	// its own credentials reach their expiry window, so that its callers
	// never wait on another process's lock. A lock, once held, does not
	// depend on ctx: it is held until unlock runs.
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

package sharedcache

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain"
)

var (
	testKey  = bytes.Repeat([]byte{0x42}, KeySize)
	otherKey = bytes.Repeat([]byte{0x17}, KeySize)
	thirdKey = bytes.Repeat([]byte{0x99}, KeySize)
)

const (
	name      = "stschain:session:0123456789abcdef0123456789abcdef01234567"
	otherName = "stschain:session:fedcba9876543210fedcba9876543210fedcba98"
	secret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	token     = "IQoJb3JpZ2luX2VjEXAMPLETOKEN0123456789+/="
)

func newTestSealer(t *testing.T, key []byte, previous ...[]byte) *Sealer {
	t.Helper()
	s, err := NewSealer(key, previous...)
	require.NoError(t, err)
	return s
}

func testEntry(accessKeyID string, expires time.Time) stschain.CacheEntry {
	return stschain.CacheEntry{
		Credentials: aws.Credentials{
			AccessKeyID:     accessKeyID,
			SecretAccessKey: secret,
			SessionToken:    token,
			CanExpire:       true,
			Expires:         expires,
			AccountID:       "123456789012",
		},
		AssumedRoleUser: &types.AssumedRoleUser{
			Arn:           aws.String("arn:aws:sts::123456789012:assumed-role/deploy/s"),
			AssumedRoleId: aws.String("AROAEXAMPLE:s"),
		},
	}
}

func seal(t *testing.T, s *Sealer, name string, e stschain.CacheEntry) []byte {
	t.Helper()
	v, err := s.Seal(name, e)
	require.NoError(t, err)
	return v
}

// assertNoSecret checks that err says nothing of the test credentials.
func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	for _, s := range []string{secret, token, secret[:8], token[:12]} {
		assert.NotContains(t, err.Error(), s)
	}
}

func TestNewSealerValidates(t *testing.T) {
	for _, tt := range []struct {
		name     string
		key      []byte
		previous [][]byte
		want     []string
	}{
		{"short key", testKey[:16], nil, []string{"the key is 16 bytes; AES-256-GCM needs exactly 32"}},
		{"long key", append(bytes.Clone(testKey), 1), nil, []string{"the key is 33 bytes"}},
		{"nil key", nil, nil, []string{"the key is 0 bytes"}},
		{"zero key", make([]byte, KeySize), nil, []string{"the key is all zero bytes"}},
		{"short previous key", testKey, [][]byte{otherKey, otherKey[:3]}, []string{"previous key 1 is 3 bytes"}},
		{"zero previous key", testKey, [][]byte{make([]byte, KeySize)}, []string{"previous key 0 is all zero bytes"}},
		{"previous key is the key", testKey, [][]byte{bytes.Clone(testKey)}, []string{"previous key 0 is the key itself"}},
		{"several", nil, [][]byte{nil}, []string{"the key is 0 bytes", "previous key 0 is 0 bytes"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSealer(tt.key, tt.previous...)
			require.Error(t, err)
			assert.Nil(t, s)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestSealAndOpen(t *testing.T) {
	s := newTestSealer(t, testKey)
	expires := time.Now().Add(time.Hour).Round(0)
	for _, tt := range []struct {
		name  string
		entry stschain.CacheEntry
	}{
		{"AssumeRole", testEntry("ASIAEXAMPLE000000001", expires)},
		{"GetSessionToken", stschain.CacheEntry{Credentials: aws.Credentials{
			AccessKeyID: "ASIAEXAMPLE000000002", SecretAccessKey: secret, SessionToken: token, CanExpire: true, Expires: expires,
		}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Open(tt.name, seal(t, s, tt.name, tt.entry))
			require.NoError(t, err)
			assert.Equal(t, tt.entry.Credentials.AccessKeyID, got.Credentials.AccessKeyID)
			assert.Equal(t, tt.entry.Credentials.SecretAccessKey, got.Credentials.SecretAccessKey)
			assert.Equal(t, tt.entry.Credentials.SessionToken, got.Credentials.SessionToken)
			assert.Equal(t, tt.entry.Credentials.AccountID, got.Credentials.AccountID)
			assert.True(t, got.Credentials.CanExpire)
			assert.True(t, expires.Equal(got.Credentials.Expires), "Expires to the nanosecond")
			assert.Equal(t, tt.entry.AssumedRoleUser, got.AssumedRoleUser)
		})
	}
	_, err := s.Seal(name, stschain.CacheEntry{Credentials: aws.Credentials{AccessKeyID: "A"}})
	assert.EqualError(t, err, "cannot seal credentials without SecretAccessKey, SessionToken, Expires")
}

func TestSealedValues(t *testing.T) {
	s := newTestSealer(t, testKey)
	e := testEntry("ASIAEXAMPLE000000001", time.Now().Add(time.Hour))
	v1, v2 := seal(t, s, name, e), seal(t, s, name, e)
	assert.NotEqual(t, v1, v2, "a random nonce per value")
	assert.NotEqual(t, Stamp(v1), Stamp(v2), "so two values' stamps differ")
	assert.Len(t, Stamp(v1), StampSize)
	assert.Equal(t, Stamp(v1), Stamp(v1[:StampSize]), "the start of a value is its stamp")
	assert.Equal(t, formatV2, v1[0])
	assert.Equal(t, s.KeyID(), fmt.Sprintf("%x", v1[1:5]), "the key ID follows the version")
	for _, x := range []string{secret, token, e.Credentials.AccessKeyID, "assumed-role", "123456789012"} {
		assert.False(t, bytes.Contains(v1, []byte(x)), "the value shows %q", x)
	}
	assert.NotEqual(t, s.KeyID(), newTestSealer(t, otherKey).KeyID())
	assert.Equal(t, s.KeyID(), newTestSealer(t, bytes.Clone(testKey), otherKey).KeyID(), "the current key's")
}

func TestNewSealerKeepsNoCopyOfTheKeys(t *testing.T) {
	key, prev := bytes.Clone(testKey), bytes.Clone(otherKey)
	s := newTestSealer(t, key, prev)
	clear(key)
	clear(prev)
	e := testEntry("ASIAEXAMPLE000000001", time.Now().Add(time.Hour))
	_, err := newTestSealer(t, testKey).Open(name, seal(t, s, name, e))
	assert.NoError(t, err, "sealed with the key as it was")
	_, err = s.Open(name, seal(t, newTestSealer(t, otherKey), name, e))
	assert.NoError(t, err, "opened with the previous key as it was")
}

// sealRaw seals plain as a value of name under key, the way Seal does, so
// that tests can build values whose plaintext Seal would never write.
func sealRaw(key []byte, name string, plain []byte) []byte {
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCMWithRandomNonce(block)
	id := keyID(key)
	header := append([]byte{formatV2}, id[:]...)
	return aead.Seal(bytes.Clone(header), nil, plain, additionalData(header, name))
}

// sealV1 seals plain in the first format: no key ID.
func sealV1(key []byte, name string, plain []byte) []byte {
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCMWithRandomNonce(block)
	return aead.Seal([]byte{formatV1}, nil, plain, additionalData([]byte{formatV1}, name))
}

func TestUnusableValues(t *testing.T) {
	s := newTestSealer(t, testKey)
	good := func() []byte { return seal(t, s, name, testEntry("ASIAEXAMPLE000000001", time.Now().Add(time.Hour))) }
	flip := func(i int) func() []byte {
		return func() []byte {
			v := good()
			if i < 0 {
				i += len(v)
			}
			v[i] ^= 0x01
			return v
		}
	}
	entryJSON := func(expires string) []byte {
		b, _ := json.Marshal(map[string]string{"AccessKeyId": "ASIAEXAMPLE000000001", "SecretAccessKey": secret, "SessionToken": token, "Expiration": expires})
		return b
	}
	const doesNotOpen = "the value does not open: it was sealed with another key, changed, truncated, or copied from another key name"
	for _, tt := range []struct {
		name  string
		value func() []byte
		want  string
	}{
		{"flipped ciphertext byte", flip(30), doesNotOpen},
		{"flipped nonce byte", flip(6), doesNotOpen},
		{"flipped tag byte", flip(-1), doesNotOpen},
		{"flipped key ID byte", flip(1), "sealed with a key this process does not have (key ID"},
		{"version byte changed", func() []byte { v := good(); v[0] = 3; return v }, "does not start with format version 2 or 1 (its first byte is 0x03)"},
		{"version byte changed to 1", func() []byte { v := good(); v[0] = formatV1; return v }, doesNotOpen},
		{"truncated", func() []byte { v := good(); return v[:len(v)-1] }, doesNotOpen},
		{"truncated to the stamp", func() []byte { return good()[:StampSize] }, "the value is 17 bytes, shorter than any sealed entry (33): truncated"},
		{"empty", func() []byte { return nil }, "the value is empty"},
		{"too large", func() []byte { return append(good(), make([]byte, MaxValueSize)...) }, "the value is over 65536 bytes, more than an entry can be"},
		{"copied from another name", func() []byte {
			return seal(t, s, otherName, testEntry("ASIAEXAMPLE000000001", time.Now().Add(time.Hour)))
		}, doesNotOpen},
		{"sealed with another key", func() []byte {
			return seal(t, newTestSealer(t, otherKey), name, testEntry("ASIAEXAMPLE000000001", time.Now().Add(time.Hour)))
		}, "the value was sealed with a key this process does not have (key ID " + newTestSealer(t, otherKey).KeyID() + "; this process seals with " + s.KeyID() + ")"},
		{"plaintext AWS CLI JSON", func() []byte { return entryJSON("2099-01-01T00:00:00Z") }, "does not start with format version 2 or 1 (its first byte is 0x7b)"},
		{"sealed non-JSON", func() []byte { return sealRaw(testKey, name, []byte(`{"SecretAccessKey":"`+secret+`"`)) }, "the sealed entry is not valid JSON (error at byte"},
		{"sealed JSON of the wrong type", func() []byte { return sealRaw(testKey, name, []byte(`{"SecretAccessKey":7}`)) }, "the sealed entry is malformed: SecretAccessKey is a JSON number"},
		{"sealed JSON with missing fields", func() []byte { return sealRaw(testKey, name, []byte(`{"SecretAccessKey":"`+secret+`"}`)) }, "the sealed entry has no AccessKeyId, SessionToken, Expiration"},
		{"sealed bad time", func() []byte { return sealRaw(testKey, name, []byte(`{"Expiration":"tomorrow"}`)) }, "the sealed entry is malformed"},
		{"expired", func() []byte {
			return seal(t, s, name, testEntry("ASIAEXAMPLE000000001", time.Now().Add(-time.Minute)))
		}, "its credentials expired at"},
		{"version 1 under another key", func() []byte { return sealV1(otherKey, name, entryJSON("2099-01-01T00:00:00Z")) }, doesNotOpen},
		{"version 1 truncated", func() []byte { return sealV1(testKey, name, nil)[:20] }, "the value is 20 bytes, shorter than any sealed entry (29): truncated"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := newTestSealer(t, testKey).Open(name, tt.value())
			assert.Zero(t, e)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assertNoSecret(t, err)
		})
	}
	_, err := s.Open(name, good())
	assert.NoError(t, err, "control: an untouched value opens")
}

func TestVersion1ValuesOpen(t *testing.T) {
	expires := time.Now().Add(time.Hour).UTC().Round(time.Second)
	plain := []byte(`{"AccessKeyId":"ASIAEXAMPLE000000001","SecretAccessKey":"` + secret + `","SessionToken":"` + token +
		`","Expiration":"` + expires.Format(time.RFC3339) + `","AccountId":"123456789012"}`)
	v1 := sealV1(testKey, name, plain)
	for _, s := range []*Sealer{newTestSealer(t, testKey), newTestSealer(t, otherKey, testKey)} {
		e, err := s.Open(name, v1)
		require.NoError(t, err, "under the key or a previous key")
		assert.Equal(t, "ASIAEXAMPLE000000001", e.Credentials.AccessKeyID)
		assert.True(t, expires.Equal(e.Credentials.Expires))
		assert.Equal(t, "123456789012", e.Credentials.AccountID)
	}
	_, err := newTestSealer(t, testKey).Open(otherName, v1)
	assert.ErrorContains(t, err, "does not open", "bound to its name")
}

// A key changes across a fleet in two rolling steps, and no value is ever
// unreadable to a process: first every process gets the new key as a
// previous key, then the new key becomes the key.
func TestKeyRotation(t *testing.T) {
	e := testEntry("ASIAEXAMPLE000000001", time.Now().Add(time.Hour))
	old := newTestSealer(t, testKey)             // before the change
	step1 := newTestSealer(t, testKey, otherKey) // reads the new key, seals with the old
	step2 := newTestSealer(t, otherKey, testKey) // seals with the new key
	after := newTestSealer(t, otherKey)          // once every old value has expired
	stray := newTestSealer(t, thirdKey, testKey) // a process given a wrong key
	fleets := [][]*Sealer{{old, step1}, {step1, step2}, {step2, after}}
	for i, fleet := range fleets {
		for _, w := range fleet {
			for _, r := range fleet {
				_, err := r.Open(name, seal(t, w, name, e))
				assert.NoError(t, err, "stage %d: every process of the fleet reads every other's values", i)
			}
		}
	}
	_, err := old.Open(name, seal(t, step2, name, e))
	require.Error(t, err, "skipping step 1 splits the fleet")
	assert.Contains(t, err.Error(), "sealed with a key this process does not have (key ID "+step2.KeyID())
	_, err = stray.Open(name, seal(t, step2, name, e))
	assert.ErrorContains(t, err, "a key this process does not have")
	assert.Equal(t, step1.KeyID(), old.KeyID())
	assert.Equal(t, step2.KeyID(), after.KeyID())
}

func TestRollbackIsRefused(t *testing.T) {
	writer := newTestSealer(t, testKey)
	now := time.Now()
	s1 := seal(t, writer, name, testEntry("ASIAEXAMPLE000000001", now.Add(time.Hour)))
	s2 := seal(t, writer, name, testEntry("ASIAEXAMPLE000000002", now.Add(2*time.Hour)))

	reader := newTestSealer(t, testKey)
	_, err := reader.Open(name, s2)
	require.NoError(t, err)
	_, err = reader.Open(name, s1)
	require.Error(t, err, "the older session, put back under the name")
	assert.Contains(t, err.Error(), "it holds an older session (expiring at "+now.Add(time.Hour).UTC().Format(time.RFC3339)+") than one this process has seen under this name")
	assert.Contains(t, err.Error(), "a rollback, refused")
	_, err = writer.Open(name, s1)
	assert.Error(t, err, "the process that sealed the newer one refuses it too")
	_, err = reader.Open(otherName, seal(t, writer, otherName, testEntry("ASIAEXAMPLE000000001", now.Add(time.Hour))))
	assert.NoError(t, err, "per name")
	_, err = newTestSealer(t, testKey).Open(name, s1)
	assert.NoError(t, err, "a process that saw nothing newer cannot tell")

	// A session that says it replaced the newest one is taken even when
	// it expires earlier (a shorter session was asked for).
	s3 := seal(t, writer, name, testEntry("ASIAEXAMPLE000000003", now.Add(30*time.Minute)))
	e, err := reader.Open(name, s3)
	require.NoError(t, err, "s3 replaced s2, which the reader saw")
	assert.Equal(t, "ASIAEXAMPLE000000003", e.Credentials.AccessKeyID)
	_, err = reader.Open(name, s1)
	assert.ErrorContains(t, err, "an older session", "s1 expires later than s3, yet earlier than s2")
	_, err = reader.Open(name, s2)
	assert.EqualError(t, err, "it holds a session that another has replaced since, as this process has seen: a rollback, refused")
	_, err = reader.Open(name, s3)
	assert.NoError(t, err, "the same session again")
	_, err = writer.Open(name, s2)
	assert.ErrorContains(t, err, "replaced since", "its sealer knows it too")
}

func TestNewestForgetsExpiredSessions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestSealer(t, testKey)
		for i := range maxNames {
			seal(t, s, fmt.Sprintf("n%d", i), testEntry("ASIAEXAMPLE000000001", time.Now().Add(time.Minute)))
		}
		require.Len(t, s.newest, maxNames)
		time.Sleep(2 * time.Minute)
		seal(t, s, "last", testEntry("ASIAEXAMPLE000000001", time.Now().Add(time.Hour)))
		assert.Len(t, s.newest, 1, "the expired ones are forgotten")
		assert.Contains(t, s.newest, "last")
	})
}

func TestOpenSaysNothingOfTheValue(t *testing.T) {
	s := newTestSealer(t, testKey)
	v := sealRaw(testKey, name, []byte(`{"AccessKeyId":"`+strings.Repeat("A", 20)+`","SecretAccessKey":7}`))
	_, err := s.Open(name, v)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "AAAA")
}

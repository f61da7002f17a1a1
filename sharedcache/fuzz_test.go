package sharedcache

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzOpen: no value a hostile store or peer writes makes Open panic, and
// an entry Open returns has every field a Cache entry needs and has not
// expired. The fuzzer writes the value whole (what a store can do) and the
// plaintext a peer holding the key seals (what a compromised host can do).
func FuzzOpen(f *testing.F) {
	s, err := NewSealer(testKey)
	require.NoError(f, err)
	valid, err := s.Seal(name, testEntry("ASIAEXAMPLE000000001", time.Now().Add(time.Hour)))
	require.NoError(f, err)
	f.Add(valid, []byte(`{"AccessKeyId":"ASIAEXAMPLE000000001","SecretAccessKey":"s","SessionToken":"t","Expiration":"2999-01-01T00:00:00Z"}`))
	f.Add([]byte{}, []byte(`null`))
	f.Add(valid[:StampSize], []byte(`{"Expiration":"-0001-01-01T00:00:00Z"}`))
	f.Add([]byte{formatV2}, []byte(`{"AccessKeyId":1}`))

	f.Fuzz(func(t *testing.T, val, plain []byte) {
		// A new Sealer each time: what one input made it see must not
		// decide the next.
		s, err := NewSealer(testKey)
		require.NoError(t, err)
		checkOpened(t, s, val)

		k := s.keys[0]
		header := append([]byte{formatV2}, k.id[:]...)
		checkOpened(t, s, k.aead.Seal(append([]byte(nil), header...), nil, plain, additionalData(header, name)))
	})
}

func checkOpened(t *testing.T, s *Sealer, val []byte) {
	t.Helper()
	e, err := s.Open(name, val)
	if err != nil {
		return
	}
	c := e.Credentials
	if c.AccessKeyID == "" || c.SecretAccessKey == "" || c.SessionToken == "" || !c.CanExpire {
		t.Fatalf("Open returned an entry without a field it needs (access key %q)", c.AccessKeyID)
	}
	if !c.Expires.After(time.Now()) {
		t.Fatalf("Open returned an entry that expired at %v", c.Expires)
	}
}

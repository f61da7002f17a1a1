package sharedcache_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/internal/secrettest"
	"github.com/stschain/stschain/sharedcache"
)

// No fmt verb, slog handler or json.Marshal of a type of this package
// shows a sealing key (current or previous) or a session it sealed, nor
// does the error of a value that does not open.
func TestSecretsHidden(t *testing.T) {
	const secret, token = "SEALEDsecretKEY0", "SEALEDsessionTOKEN0"
	key, previous := bytes.Repeat([]byte{0x42}, sharedcache.KeySize), bytes.Repeat([]byte{0x17}, sharedcache.KeySize)
	s, err := sharedcache.NewSealer(key, previous)
	require.NoError(t, err)
	const name = "session:a"
	val, err := s.Seal(name, stschain.CacheEntry{Credentials: aws.Credentials{
		AccessKeyID: "ASIAEXAMPLE000000001", SecretAccessKey: secret, SessionToken: token,
		CanExpire: true, Expires: time.Now().Add(time.Hour),
	}})
	require.NoError(t, err)
	_, otherNameErr := s.Open("session:b", val)
	require.Error(t, otherNameErr)
	opts := sharedcache.LockOptions{Name: "testcache"}
	l, err := sharedcache.NewLocker(newMemStore(), opts)
	require.NoError(t, err)

	secrets := append(append([]string{secret, token}, secrettest.Bytes(key)...), secrettest.Bytes(previous)...)
	for name, v := range map[string]any{
		"*Sealer":             s,
		"*Locker":             l,
		"LockOptions":         opts,
		"error of Open":       otherNameErr,
		"error of NewSealer":  func() error { _, err := sharedcache.NewSealer(key, key); return err }(),
		"error of a bad size": func() error { _, err := sharedcache.NewSealer(key[1:]); return err }(),
	} {
		t.Run(name, func(t *testing.T) {
			secrettest.AssertHidden(t, v, secrets...)
		})
	}
	want := "sharedcache.Sealer{key ID " + s.KeyID() + ", 1 previous keys}"
	assert.Equal(t, want, fmt.Sprintf("%+v", s))
	assert.Equal(t, fmt.Sprintf("%q", want), fmt.Sprintf("%q", s))
}

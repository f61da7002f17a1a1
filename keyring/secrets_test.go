package keyring

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/secrettest"
)

// No fmt verb, slog handler or json.Marshal of a type of this package
// shows the keys it holds or the passphrase of an unlocked file keyring,
// nor does an error of a refused key or a wrong passphrase.
func TestSecretsHidden(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Not testID: errors quote AWS's example key ID as an example.
	const id = "AKIAPLANTEDKEYID0042"
	dir := t.TempDir()
	k := openFile(t, ServiceStschain, dir, &passphrases{answer: testPassphrase})
	require.NoError(t, k.Set(ctx, "alice", NewKeys(id, testSecret)))
	keys, err := k.Get(ctx, "alice")
	require.NoError(t, err)
	opts := Options{Backend: BackendFile, FileDir: dir, Passphrase: (&passphrases{answer: testPassphrase}).fn}

	refused := k.Set(ctx, "bob", NewKeys(testSecret, id))
	require.ErrorIs(t, refused, ErrInvalidKeys)
	wrong := openFile(t, ServiceStschain, dir, &passphrases{answer: testPassphrase + " wrong"})
	_, wrongErr := wrong.Get(ctx, "alice")
	require.ErrorIs(t, wrongErr, ErrWrongPassphrase)

	for name, v := range map[string]any{
		"Keys":                    keys,
		"*Keys":                   &keys,
		"Keys in a hidden field":  struct{ k Keys }{keys}, // fmt calls no method there
		"*Keyring":                k,
		"*Provider":               k.Provider("alice"),
		"Provider":                *k.Provider("alice"),
		"Options":                 opts,
		"*Options":                &opts,
		"error of refused keys":   refused,
		"error of a wrong phrase": wrongErr,
		"Validate's error":        NewKeys(id, testSecret+" ").Validate(),
	} {
		t.Run(name, func(t *testing.T) {
			secrettest.AssertHidden(t, v, testPassphrase, testSecret, id[:16])
		})
	}
}

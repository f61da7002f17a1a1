package credserver_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/credserver"
	"github.com/stschain/stschain/internal/secrettest"
)

// No fmt verb, slog handler or json.Marshal of a Server shows its token
// or the credentials it serves: they show its URL.
func TestSecretsHidden(t *testing.T) {
	s := start(t, &countingProvider{creds: fixedCreds()})
	uri, tok := env(t, s)
	opts := credserver.Options{TokenFile: filepath.Join(t.TempDir(), "token")}
	withFile, err := credserver.Start(&countingProvider{creds: fixedCreds()}, func(o *credserver.Options) { *o = opts })
	require.NoError(t, err)
	t.Cleanup(func() { _ = withFile.Close() })
	fileTok, err := os.ReadFile(opts.TokenFile)
	require.NoError(t, err)

	for name, v := range map[string]any{
		"*Server":                             s,
		"*Server with TokenFile":              withFile,
		"*Server in a field fmt cannot reach": struct{ s *credserver.Server }{s},
		"Options":                             opts,
	} {
		t.Run(name, func(t *testing.T) {
			secrettest.AssertHidden(t, v, tok, string(fileTok), secret, token)
		})
	}
	assert.Equal(t, "credserver.Server{"+uri+"}", fmt.Sprintf("%+v", s))
	assert.Equal(t, `"credserver.Server{`+uri+`}"`, fmt.Sprintf("%q", s))
	assert.Contains(t, secrettest.Outputs(s)["slog JSON"], uri)
}

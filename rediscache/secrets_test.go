package rediscache

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/secrettest"
)

// No fmt verb, slog handler or json.Marshal of a Cache or its Options
// shows a sealing key (current or previous), the Redis password or a
// session, nor does the error of a value that does not open.
func TestSecretsHidden(t *testing.T) {
	const password = "REDISpassw0rd-planted"
	m := miniredis.RunT(t)
	m.RequireAuth(password)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), Password: password})
	t.Cleanup(func() { _ = rdb.Close() })
	var logs bytes.Buffer
	o := Options{Prefix: "app:", PreviousKeys: [][]byte{otherKey}, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	c := newTestCache(t, rdb, func(opts *Options) { *opts = o })
	ctx := t.Context()
	require.NoError(t, c.Store(ctx, cacheKey, testEntry(time.Now().Add(time.Hour))))
	m.Set("app:session:"+cacheKey, "not a sealed value")
	_, _, loadErr := c.Load(ctx, cacheKey)
	require.Error(t, loadErr)

	secrets := append(append([]string{password, secret, token}, secrettest.Bytes(testKey)...), secrettest.Bytes(otherKey)...)
	for name, v := range map[string]any{
		"*Cache":     c,
		"Options":    o,
		"*Options":   &o,
		"Load error": loadErr,
	} {
		t.Run(name, func(t *testing.T) {
			secrettest.AssertHidden(t, v, secrets...)
		})
	}

	want := `rediscache.Cache{prefix "app:", key ID ` + c.sealer.KeyID() + `, timeout 1s, lock TTL 10s}`
	assert.Equal(t, want, fmt.Sprintf("%+v", c))
	assert.Equal(t, fmt.Sprintf("%q", want), fmt.Sprintf("%q", c))
	assert.Contains(t, secrettest.Outputs(c)["slog text"], `v="rediscache.Cache{prefix \"app:\"`)
	assert.Equal(t, `rediscache.Options{prefix "app:", 1 previous keys, timeout 0s, lock TTL 0s, lock retry 0s}`, fmt.Sprintf("%v", o))
	assert.JSONEq(t, `{"Prefix":"app:","PreviousKeys":1}`, secrettest.Outputs(o)["json.Marshal"])
}

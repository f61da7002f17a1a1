package stslimits

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain/internal/awsclitest"
)

// stsModel reads the STS API model botocore ships, the model the AWS CLI
// validates requests with. It skips t when botocore cannot be imported,
// or fails it when awsclitest.RequireEnv is set.
func stsModel(t *testing.T) map[string]map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "python3", "-c", "import botocore, os; print(os.path.dirname(botocore.__file__))").Output()
	if err != nil {
		if os.Getenv(awsclitest.RequireEnv) != "" {
			t.Fatalf("cannot import botocore (%v), and %s is set", err, awsclitest.RequireEnv)
		}
		t.Skipf("skipping the check against botocore's STS model: cannot import botocore: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "data", "sts", "2011-06-15")
	var r io.Reader
	if data, err := os.ReadFile(filepath.Join(dir, "service-2.json.gz")); err == nil {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		require.NoError(t, err)
		r = zr
	} else {
		data, err := os.ReadFile(filepath.Join(dir, "service-2.json"))
		require.NoError(t, err, "botocore has no STS model in %s", dir)
		r = bytes.NewReader(data)
	}
	var model struct {
		Shapes map[string]map[string]any `json:"shapes"`
	}
	require.NoError(t, json.NewDecoder(r).Decode(&model))
	return model.Shapes
}

func seconds(t *testing.T, shape map[string]any, key string) time.Duration {
	t.Helper()
	v, ok := shape[key].(float64)
	require.True(t, ok, "shape has no %s: %v", key, shape)
	return time.Duration(v) * time.Second
}

// TestDurationsMatchTheAPIModel checks the DurationSeconds bounds against
// STS's own model, which botocore carries.
func TestDurationsMatchTheAPIModel(t *testing.T) {
	shapes := stsModel(t)
	for _, tt := range []struct {
		operation, shape string
		min, max         time.Duration
	}{
		{"AssumeRoleRequest", "roleDurationSecondsType", MinDuration, MaxAssumeRoleDuration},
		{"AssumeRoleWithWebIdentityRequest", "roleDurationSecondsType", MinDuration, MaxAssumeRoleDuration},
		{"GetSessionTokenRequest", "durationSecondsType", MinDuration, MaxGetSessionTokenDuration},
	} {
		t.Run(tt.operation, func(t *testing.T) {
			members, ok := shapes[tt.operation]["members"].(map[string]any)
			require.True(t, ok, "no %s in the model", tt.operation)
			ds, ok := members["DurationSeconds"].(map[string]any)
			require.True(t, ok)
			require.Equal(t, tt.shape, ds["shape"])
			shape := shapes[tt.shape]
			assert.Equal(t, tt.min, seconds(t, shape, "min"))
			assert.Equal(t, tt.max, seconds(t, shape, "max"))
		})
	}
}

// TestRoleLimitsAreConsistent checks what ststest and the root package
// rely on between the constants: a role's largest MaxSessionDuration is
// AssumeRole's largest DurationSeconds, and the defaults lie within the
// bounds.
func TestRoleLimitsAreConsistent(t *testing.T) {
	assert.Equal(t, MaxAssumeRoleDuration, MaxRoleMaxSessionDuration)
	assert.GreaterOrEqual(t, DefaultRoleMaxSessionDuration, MinRoleMaxSessionDuration)
	assert.LessOrEqual(t, DefaultAssumeRoleDuration, DefaultRoleMaxSessionDuration)
	assert.Greater(t, MinRoleMaxSessionDuration, MinDuration)
	assert.LessOrEqual(t, RoleChainingMaxDuration, MinRoleMaxSessionDuration)
	assert.Less(t, DefaultGetSessionTokenDuration, MaxGetSessionTokenDuration)
}

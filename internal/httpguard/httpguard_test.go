package httpguard

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckEndpoint(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		refused  bool
	}{
		{"https://sts.amazonaws.com", false},
		{"https://10.0.0.1", false},
		{"http://127.0.0.1:8080", false},
		{"http://127.8.9.10", false},
		{"http://[::1]:4566", false},
		{"http://localhost:4566", false},
		{"HTTP://LOCALHOST.", false},
		{"http://sts.localhost", false},
		{"http://ststest.invalid", false},
		{"http://sts.amazonaws.com", true},
		{"HTTP://sts.amazonaws.com", true},
		{"http://10.0.0.1", true},
		{"http://0.0.0.0:80", true},
		{"http://127.0.0.1.evil.example", true},
		{"http://localhost.evil.example", true},
		{"http://invalid.evil.example", true},
		{"http://169.254.169.254", true},
	} {
		t.Run(tc.endpoint, func(t *testing.T) {
			err := CheckEndpoint("cfg.BaseEndpoint", tc.endpoint)
			if !tc.refused {
				assert.NoError(t, err)
				return
			}
			var ce *CleartextError
			require.True(t, errors.As(err, &ce), "%v", err)
			assert.True(t, strings.HasPrefix(err.Error(), "cfg.BaseEndpoint http://"), err.Error())
			assert.Contains(t, err.Error(), "use https")
		})
	}
}

// The error names scheme and host only: a password in the URL, or a
// query, is not repeated.
func TestCheckEndpointQuotesHostOnly(t *testing.T) {
	err := CheckEndpoint("endpoint_url", "http://user:hunter2@sts.example.com:8080/path?X-Amz-Security-Token=tok")
	require.Error(t, err)
	assert.Equal(t, "endpoint_url http://sts.example.com:8080 uses plain http", err.Error()[:len("endpoint_url http://sts.example.com:8080 uses plain http")])
	assert.NotContains(t, err.Error(), "hunter2")
	assert.NotContains(t, err.Error(), "tok")
}

func TestLimitedBody(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
		err  error
	}{
		{"empty", 0, nil},
		{"at the limit", MaxBody, nil},
		{"one byte over", MaxBody + 1, ErrBodyTooLarge},
		{"far over", 10 * MaxBody, ErrBodyTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &countingReader{r: bytes.NewReader(make([]byte, tc.size))}
			b := &limitedBody{rc: io.NopCloser(src), left: MaxBody}
			got, err := io.ReadAll(b)
			if tc.err == nil {
				assert.NoError(t, err)
				assert.Len(t, got, tc.size)
				return
			}
			assert.ErrorIs(t, err, tc.err)
			assert.Len(t, got, MaxBody, "what is read is the limit")
			_, err = io.Copy(io.Discard, b) // as the SDK drains a body before closing it
			assert.ErrorIs(t, err, tc.err)
			assert.Equal(t, MaxBody+1, src.n, "no more than one byte past the limit is read, drained or not")
		})
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// Apply adds the guard to a config's APIOptions without writing into an
// array it shares with another config.
func TestApplyLeavesSharedOptionsAlone(t *testing.T) {
	shared := make([]func(*middleware.Stack) error, 1, 4)
	shared[0] = func(*middleware.Stack) error { return nil }
	a, b := aws.Config{APIOptions: shared}, aws.Config{APIOptions: shared}
	Apply(&a)
	b.APIOptions = append(b.APIOptions, func(*middleware.Stack) error { return errors.New("b's") })
	require.Len(t, a.APIOptions, 2)
	stack := middleware.NewStack("op", smithyhttp.NewStackRequest)
	require.NoError(t, a.APIOptions[1](stack))
	_, ok := stack.Deserialize.Get(guard{}.ID())
	assert.True(t, ok, "a's last option is still the guard")
}

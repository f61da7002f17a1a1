package secrettest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

type leaky struct{ Secret string }

// hidden keeps its secret behind a pointer: %p of a value prints its
// fields without calling Format.
type hidden struct{ secret *string }

func (hidden) String() string               { return "hidden" }
func (h hidden) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(h.String())) }
func (hidden) MarshalJSON() ([]byte, error) { return []byte(`"hidden"`), nil }

// fakeT records failures instead of failing the test.
type fakeT struct {
	testing.TB
	errors []string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, a ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, a...))
}

func TestAssertHidden(t *testing.T) {
	var ft fakeT
	AssertHidden(&ft, leaky{"SECRETVALUE1"}, "SECRETVALUE1")
	assert.NotEmpty(t, ft.errors, "a struct with the secret in an exported field shows it")

	ft = fakeT{}
	secret := "SECRETVALUE1"
	AssertHidden(&ft, hidden{&secret}, "SECRETVALUE1")
	assert.Empty(t, ft.errors)

	ft = fakeT{}
	AssertHidden(&ft, errors.New("key SECRETVALUE1"), "SECRETVALUE1")
	assert.NotEmpty(t, ft.errors, "an error's message is looked at")

	key := bytes.Repeat([]byte{0x17}, 32)
	for _, v := range []any{struct{ Key []byte }{key}, struct{ Keys [][]byte }{[][]byte{key}}} {
		ft = fakeT{}
		AssertHidden(&ft, v, Bytes(key)...)
		assert.NotEmpty(t, ft.errors, "%T shows its key", v)
		for _, e := range ft.errors {
			assert.NotContains(t, e, "too short")
		}
	}

	ft = fakeT{}
	AssertHidden(&ft, hidden{}, "tiny")
	assert.Equal(t, []string{`secret "tiny" is too short to look for`}, ft.errors)
}

package mfacode

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{
		"123456": true, "000000": true,
		"": false, "12345": false, "1234567": false, "12345a": false, " 12345": false, "１２３４５６": false,
	} {
		assert.Equal(t, want, Valid(s), "%q", s)
	}
}

func TestOutput(t *testing.T) {
	var o Output
	n, err := fmt.Fprint(&o, "123456\n")
	assert.NoError(t, err)
	assert.Equal(t, 7, n)
	assert.Equal(t, "123456\n", o.String())
	assert.False(t, o.Overflow())

	big := strings.Repeat("x", MaxOutput)
	n, err = o.Write([]byte(big))
	assert.NoError(t, err)
	assert.Equal(t, MaxOutput, n, "every byte is reported written")
	assert.True(t, o.Overflow())
	assert.Len(t, o.String(), MaxOutput)
	assert.Equal(t, "123456\n", o.String()[:7])
	n, _ = o.Write([]byte("more"))
	assert.Equal(t, 4, n)
	assert.Len(t, o.String(), MaxOutput)
}

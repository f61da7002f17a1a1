package clicache

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAccountOf(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:sts::123456789012:assumed-role/demo/alice": "123456789012",
		"arn:aws-us-gov:iam::123456789012:role/demo":        "123456789012",
		"arn:aws:s3:::bucket":                               "",
		"arn:aws:iam::12345678901:role/demo":                "",
		"arn:aws:iam::1234567890123:role/demo":              "",
		"arn:aws:iam::12345678901x:role/demo":               "",
		"arn:aws:iam:123456789012":                          "",
		"not an arn":                                        "",
		"":                                                  "",
	} {
		assert.Equal(t, want, AccountOf(in), in)
	}
}

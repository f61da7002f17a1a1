package stschain

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewChainSignsEachLinkWithTheOneBelow(t *testing.T) {
	fc := newFakeSTS("C", 0)
	fb := newFakeSTS("B", 0)
	fa := newFakeSTS("A", 0)
	top, err := NewChain(aws.Config{Credentials: staticMaster("alice")},
		Options{Client: fc},
		Options{Client: fb, RoleARN: roleB},
		Options{Client: fa, RoleARN: roleA},
	)
	require.NoError(t, err)
	creds, err := top.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, issuedKey("A", 1), creds.AccessKeyID)
	assert.Equal(t, "AKIAalice", fc.Calls()[0].signedBy)
	assert.Equal(t, issuedKey("C", 1), fb.Calls()[0].signedBy)
	assert.Equal(t, issuedKey("B", 1), fa.Calls()[0].signedBy)
}

func TestNewChainFirstLinkKeepsItsMaster(t *testing.T) {
	fb := newFakeSTS("B", 0)
	top, err := NewChain(aws.Config{Credentials: staticMaster("cfg")},
		Options{Client: fb, RoleARN: roleB, MasterCredentials: staticMaster("own")})
	require.NoError(t, err)
	_, err = top.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "AKIAown", fb.Calls()[0].signedBy)
}

func TestNewChainRefusesBadLinks(t *testing.T) {
	cfg := aws.Config{Credentials: staticMaster("alice")}
	_, err := NewChain(cfg)
	assert.ErrorIs(t, err, ErrInvalidOptions)

	_, err = NewChain(cfg, Options{RoleARN: roleB}, Options{RoleARN: roleA, MasterCredentials: staticMaster("x")})
	assert.ErrorIs(t, err, ErrInvalidOptions)
	assert.ErrorContains(t, err, `link 2 ("`+roleA+`") sets MasterCredentials`)

	_, err = NewChain(cfg, Options{RoleARN: roleB}, Options{RoleARN: "not-an-arn"})
	assert.ErrorIs(t, err, ErrInvalidOptions)
	assert.ErrorContains(t, err, `stschain: NewChain link 2 ("not-an-arn"): invalid options: RoleARN`)
}

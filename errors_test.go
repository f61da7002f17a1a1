package stschain

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChainErrorShowsPathToFailingLink(t *testing.T) {
	fb := newFakeSTS("B", time.Hour)
	fb.failNext(apiError("AccessDenied", "User is not authorized"))
	b := newFake(t, fb, staticMaster("alice"), withRole(roleB))
	fa := newFakeSTS("A", time.Hour)
	a := newFake(t, fa, b, withRole(roleA))

	_, err := a.Retrieve(context.Background())
	require.Error(t, err)
	assert.Equal(t, "stschain: "+roleA+" -> "+roleB+": AssumeRole: api error AccessDenied: User is not authorized", err.Error())
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "AccessDenied", ae.ErrorCode())
	var le *Error
	require.ErrorAs(t, err, &le)
	assert.Equal(t, roleA, le.Link)
	assert.Zero(t, fa.count(), "A is not called without master credentials")
}

func TestNoSecretInFormattedValues(t *testing.T) {
	master := credentials.NewStaticCredentialsProvider("AKIAalice", "SUPERSECRETKEY", "SESSIONTOKEN")
	opts := Options{RoleARN: roleA, MasterCredentials: master, SerialNumber: "arn:aws:iam::123456789012:mfa/alice",
		TokenCode: func(context.Context, string) (string, error) { return "123456", nil }}
	p, err := New(aws.Config{Credentials: master}, func(o *Options) { *o = opts })
	require.NoError(t, err)
	_, err = New(aws.Config{Credentials: master}, func(o *Options) { *o = opts; o.RoleARN = "SUPERSECRETKEY" })
	require.Error(t, err)
	for _, s := range []string{
		fmt.Sprintf("%v", p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", p), fmt.Sprint(p),
		fmt.Sprintf("%v", opts), fmt.Sprintf("%+v", opts), fmt.Sprintf("%#v", opts), fmt.Sprintf("%v", &opts),
		err.Error(),
	} {
		assert.NotContains(t, s, "SESSIONTOKEN")
		if !strings.Contains(s, "RoleARN") { // the bad RoleARN is echoed, as it should be
			assert.NotContains(t, s, "SUPERSECRETKEY")
		}
	}
	assert.Contains(t, fmt.Sprintf("%v", p), roleA)
}

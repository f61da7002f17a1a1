package awsprofile_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/ststest"
)

// aws-vault's keys are read from the files the SDK reads, also when they
// are named in LoadOptions rather than Options, and from the credentials
// file too.
func TestVaultKeysFromTheSDKsFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("tagged")})
	cf, crf := e.files("[profile tagged]\nrole_arn = "+roleARN("tagged")+"\nsource_profile = alice\nsession_tags = team = red\n",
		aliceCredentials+"[tagged]\nsource_identity = from-credentials\n")
	rec := &recordingClient{Client: sts.NewFromConfig(e.srv.AWSConfig("alice"))}
	cfg, err := awsprofile.LoadConfig(context.Background(), "tagged", func(o *awsprofile.Options) {
		o.LoadOptions = append(e.sdkOptions(), config.WithSharedConfigFiles([]string{cf}), config.WithSharedCredentialsFiles([]string{crf}))
		o.LinkOptions = []func(*stschain.Options){func(so *stschain.Options) { so.Client = rec }}
	})
	require.NoError(t, err)
	_, err = cfg.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	require.Len(t, rec.inputs, 1)
	require.Len(t, rec.inputs[0].Tags, 1)
	assert.Equal(t, "team", aws.ToString(rec.inputs[0].Tags[0].Key))
	assert.Equal(t, "red", aws.ToString(rec.inputs[0].Tags[0].Value))
	assert.Equal(t, "from-credentials", aws.ToString(rec.inputs[0].SourceIdentity))

	// The files of LoadOptions also name the profile at fault.
	cf, crf = e.files("[profile a]\nrole_arn = "+roleARN("a")+"\nsource_profile = b\n[profile b]\nrole_arn = "+roleARN("b")+"\nsource_profile = a\n", "")
	_, err = awsprofile.LoadConfig(context.Background(), "a", func(o *awsprofile.Options) {
		o.LoadOptions = []func(*config.LoadOptions) error{config.WithSharedConfigFiles([]string{cf}), config.WithSharedCredentialsFiles([]string{crf})}
	})
	var ce *awsprofile.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, []string{"a", "b", "a"}, ce.Chain)
}

package awsprofile_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/ststest"
)

// exampleFiles starts a fake STS and writes an AWS config whose chain is
// alice's keys -> role dev -> role prod-admin, pointed at the fake STS. It
// returns the options for LoadConfig and a function that stops it all.
func exampleFiles() (func(*awsprofile.Options), func()) {
	srv := ststest.NewServer(ststest.Config{
		AccountID: "123456789012",
		Region:    "eu-west-1",
		Users:     []ststest.User{{Name: "alice", AccessKeyID: "AKIAALICEEXAMPLE0001", SecretAccessKey: "alice-secret"}},
		Roles: []ststest.Role{
			{ARN: "arn:aws:iam::123456789012:role/dev", Trust: []string{"arn:aws:iam::123456789012:user/alice"}},
			{ARN: "arn:aws:iam::123456789012:role/prod-admin", Trust: []string{"arn:aws:iam::123456789012:role/dev"}},
			{ARN: "arn:aws:iam::123456789012:role/audit", Trust: []string{"arn:aws:iam::123456789012:role/prod-admin"}},
		},
	})
	dir, err := os.MkdirTemp("", "awsprofile-example-")
	if err != nil {
		log.Fatal(err)
	}
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "URL", srv.URL)), 0o600); err != nil {
			log.Fatal(err)
		}
		return path
	}
	config := write("config", `
[profile dev]
role_arn = arn:aws:iam::123456789012:role/dev
source_profile = alice

[profile prod-admin]
region = eu-west-1
endpoint_url = URL
role_arn = arn:aws:iam::123456789012:role/prod-admin
source_profile = dev
role_session_name = alice
`)
	credentials := write("credentials", `
[alice]
aws_access_key_id = AKIAALICEEXAMPLE0001
aws_secret_access_key = alice-secret
`)
	return func(o *awsprofile.Options) {
			o.ConfigFiles = []string{config}
			o.CredentialsFiles = []string{credentials}
		}, func() {
			srv.Close()
			os.RemoveAll(dir)
		}
}

func ExampleLoadConfig() {
	files, stop := exampleFiles()
	defer stop()
	ctx := context.Background()

	cfg, err := awsprofile.LoadConfig(ctx, "prod-admin", files)
	if err != nil {
		log.Fatal(err)
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Region)
	fmt.Println(aws.ToString(id.Arn))
	// Output:
	// eu-west-1
	// arn:aws:sts::123456789012:assumed-role/prod-admin/alice
}

// A profile's chain, with one more role on top, as the stschain command
// builds --profile with --role-arn.
func ExampleLoadChain() {
	files, stop := exampleFiles()
	defer stop()
	ctx := context.Background()

	chain, err := awsprofile.LoadChain(ctx, "prod-admin", files)
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range chain.Links {
		fmt.Println(l)
	}
	audit, err := stschain.NewChain(chain.Config, stschain.Options{
		RoleARN:         "arn:aws:iam::123456789012:role/audit",
		RoleSessionName: "audit",
	})
	if err != nil {
		log.Fatal(err)
	}
	cfg := chain.Config.Copy()
	cfg.Credentials = audit
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(aws.ToString(id.Arn))
	// Output:
	// static (profile alice)
	// AssumeRole arn:aws:iam::123456789012:role/dev (profile dev)
	// AssumeRole arn:aws:iam::123456789012:role/prod-admin (profile prod-admin)
	// arn:aws:sts::123456789012:assumed-role/audit/audit
}

// Which profile is wrong, and why, before any STS call.
func ExampleConfigError() {
	dir, err := os.MkdirTemp("", "awsprofile-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	config := filepath.Join(dir, "config")
	err = os.WriteFile(config, []byte(`
[profile deploy]
role_arn = arn:aws:iam::123456789012:role/deploy
source_profile = ci

[profile ci]
role_arn = arn:aws:iam::123456789012:role/ci
source_profile = deploy
`), 0o600)
	if err != nil {
		log.Fatal(err)
	}
	_, err = awsprofile.LoadConfig(context.Background(), "deploy", func(o *awsprofile.Options) {
		o.ConfigFiles = []string{config}
		o.CredentialsFiles = []string{}
	})
	fmt.Println(err)
	// Output:
	// awsprofile: profile "ci" (deploy -> ci -> deploy): source_profile "deploy" makes a loop
}

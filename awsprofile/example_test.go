package awsprofile_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

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

// One MFA prompt a day: a 12-hour MFA session under the roles of the
// chain, kept in a FileCache (the AWS CLI's, in a program of yours), so
// that a restart asks for no code either.
func ExampleLoadConfig_mfaOncePerDay() {
	srv := ststest.NewServer(ststest.Config{
		AccountID: "123456789012",
		Users: []ststest.User{{Name: "alice", AccessKeyID: "AKIAALICEEXAMPLE0001", SecretAccessKey: "alice-secret",
			MFASerial: "arn:aws:iam::123456789012:mfa/alice"}},
		Roles: []ststest.Role{{ARN: "arn:aws:iam::123456789012:role/admin", Trust: []string{"arn:aws:iam::123456789012:user/alice"},
			RequireMFA: true, MaxSessionDuration: 12 * time.Hour}},
	})
	defer srv.Close()
	dir, err := os.MkdirTemp("", "awsprofile-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	configFile, credentialsFile := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	_ = os.WriteFile(configFile, []byte("[profile admin]\nregion = us-east-1\nendpoint_url = "+srv.URL+
		"\nrole_arn = arn:aws:iam::123456789012:role/admin\nsource_profile = alice\nrole_session_name = alice\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n"), 0o600)
	_ = os.WriteFile(credentialsFile, []byte("[alice]\naws_access_key_id = AKIAALICEEXAMPLE0001\naws_secret_access_key = alice-secret\n"), 0o600)
	cacheDir := filepath.Join(dir, "cache") // in a program: stschain.DefaultCLICacheDir()
	ctx := context.Background()

	for range 2 { // two runs of the program
		cache, err := stschain.NewFileCache(cacheDir) // shared with the AWS CLI
		if err != nil {
			log.Fatal(err)
		}
		cfg, err := awsprofile.LoadConfig(ctx, "admin", func(o *awsprofile.Options) {
			o.SessionDuration = 12 * time.Hour // one MFA prompt a day, not one per role session
			o.Cache = cache                    // and none after a restart
			o.ConfigFiles, o.CredentialsFiles = []string{configFile}, []string{credentialsFile}
			o.TokenCode = func(ctx context.Context, serial string) (string, error) {
				fmt.Println("MFA code asked for", serial)
				return srv.TokenCode(ctx, serial)
			}
		})
		if err != nil {
			log.Fatal(err) // an *awsprofile.ConfigError names the profile at fault
		}
		client := sts.NewFromConfig(cfg)
		id, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(aws.ToString(id.Arn))
	}
	// Output:
	// MFA code asked for arn:aws:iam::123456789012:mfa/alice
	// arn:aws:sts::123456789012:assumed-role/admin/alice
	// arn:aws:sts::123456789012:assumed-role/admin/alice
}

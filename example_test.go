package stschain_test

import (
	"context"
	"fmt"
	"log"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stschain/stschain"
	"github.com/stschain/stschain/ststest"
)

// aliceDevice stands in for alice's MFA device: like a real one, it shows a
// new code each time (a real device every 30 seconds), and STS accepts each
// code once. No code is ever sent twice for one device within its time
// step, so a fixed code would do only once per process.
var aliceDevice = struct {
	codes []string
	next  atomic.Int64
}{codes: func() []string {
	var codes []string
	for i := range 1000 {
		codes = append(codes, fmt.Sprintf("%06d", 100000+i*7))
	}
	return codes
}()}

func aliceCode() string {
	return aliceDevice.codes[int(aliceDevice.next.Add(1))%len(aliceDevice.codes)]
}

// exampleServer starts a fake STS that knows the user alice (with an MFA
// device), and roles B (trusting alice), A (trusting B) and Admin (trusting
// alice, requiring MFA).
func exampleServer() *ststest.Server {
	return ststest.NewServer(ststest.Config{
		AccountID: "123456789012",
		Users: []ststest.User{{
			Name: "alice", AccessKeyID: "AKIAALICEEXAMPLE01", SecretAccessKey: "alice-secret",
			MFASerial: "arn:aws:iam::123456789012:mfa/alice",
			MFACodes:  aliceDevice.codes,
		}},
		Roles: []ststest.Role{
			{ARN: "arn:aws:iam::123456789012:role/B", Trust: []string{"arn:aws:iam::123456789012:user/alice"}},
			{ARN: "arn:aws:iam::123456789012:role/A", Trust: []string{"arn:aws:iam::123456789012:role/B"}},
			{ARN: "arn:aws:iam::123456789012:role/Admin", Trust: []string{"arn:aws:iam::123456789012:user/alice"}, RequireMFA: true},
		},
	})
}

// whoami prints the caller identity that creds give.
func whoami(cfg aws.Config, creds aws.CredentialsProvider) {
	cfg.Credentials = creds
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(aws.ToString(out.Arn))
}

// GetSessionToken: no RoleARN.
func ExampleNew_getSessionToken() {
	srv := exampleServer()
	defer srv.Close()
	cfg := srv.AWSConfig("alice")

	p, err := stschain.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	creds, err := p.Retrieve(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(creds.CanExpire, creds.SessionToken != "", creds.Source)
	whoami(cfg, p)
	// Output:
	// true true stschain.ChainableProvider
	// arn:aws:iam::123456789012:user/alice
}

// Assume a role with the credentials of cfg.
func ExampleNew_assumeRole() {
	srv := exampleServer()
	defer srv.Close()
	cfg := srv.AWSConfig("alice")

	p, err := stschain.New(cfg, func(o *stschain.Options) {
		o.RoleARN = "arn:aws:iam::123456789012:role/B"
		o.RoleSessionName = "deploy"
	})
	if err != nil {
		log.Fatal(err)
	}
	cfg.Credentials = p // every client made from cfg now uses role B
	whoami(cfg, cfg.Credentials)
	// Output:
	// arn:aws:sts::123456789012:assumed-role/B/deploy
}

// Role A assumed from role B assumed from the user: each link is a provider
// whose master is the link below, and each refreshes on its own.
func ExampleNew_chain() {
	srv := exampleServer()
	defer srv.Close()
	cfg := srv.AWSConfig("alice")

	b, err := stschain.New(cfg, func(o *stschain.Options) {
		o.RoleARN = "arn:aws:iam::123456789012:role/B"
		o.RoleSessionName = "session-b"
	})
	if err != nil {
		log.Fatal(err)
	}
	a, err := stschain.New(cfg, func(o *stschain.Options) {
		o.RoleARN = "arn:aws:iam::123456789012:role/A"
		o.RoleSessionName = "session-a"
		o.MasterCredentials = b
	})
	if err != nil {
		log.Fatal(err)
	}
	whoami(cfg, a)
	for _, c := range srv.CallsFor("AssumeRole") {
		fmt.Println(c.RoleARN, "signed by", c.CallerARN)
	}
	// Output:
	// arn:aws:sts::123456789012:assumed-role/A/session-a
	// arn:aws:iam::123456789012:role/B signed by arn:aws:iam::123456789012:user/alice
	// arn:aws:iam::123456789012:role/A signed by arn:aws:sts::123456789012:assumed-role/B/session-b
}

// MFA: TokenCode is called with the device's serial number before each STS
// call. Interactive programs use stschain.PromptTokenCode, automation
// stschain.TOTPTokenCode.
func ExampleNew_mfa() {
	srv := exampleServer()
	defer srv.Close()
	cfg := srv.AWSConfig("alice")

	p, err := stschain.New(cfg, func(o *stschain.Options) {
		o.RoleARN = "arn:aws:iam::123456789012:role/Admin"
		o.RoleSessionName = "admin"
		o.SerialNumber = "arn:aws:iam::123456789012:mfa/alice"
		o.TokenCode = func(ctx context.Context, serial string) (string, error) {
			fmt.Println("code asked for", serial)
			return aliceCode(), nil // stschain.PromptTokenCode asks the user
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	whoami(cfg, p)
	// Output:
	// code asked for arn:aws:iam::123456789012:mfa/alice
	// arn:aws:sts::123456789012:assumed-role/Admin/admin
}

// Prompt once a day: MFA on a long GetSessionToken session, and roles that
// require MFA assumed from it without asking again.
func ExampleNew_mfaOncePerDay() {
	srv := exampleServer()
	defer srv.Close()
	cfg := srv.AWSConfig("alice")

	session, err := stschain.New(cfg, func(o *stschain.Options) {
		o.Duration = 24 * time.Hour
		o.SerialNumber = "arn:aws:iam::123456789012:mfa/alice"
		o.TokenCode = func(ctx context.Context, serial string) (string, error) {
			fmt.Println("code asked for", serial)
			return aliceCode(), nil
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	admin, err := stschain.New(cfg, func(o *stschain.Options) {
		o.RoleARN = "arn:aws:iam::123456789012:role/Admin"
		o.RoleSessionName = "admin"
		o.MasterCredentials = session
	})
	if err != nil {
		log.Fatal(err)
	}
	whoami(cfg, admin)
	// Output:
	// code asked for arn:aws:iam::123456789012:mfa/alice
	// arn:aws:sts::123456789012:assumed-role/Admin/admin
}

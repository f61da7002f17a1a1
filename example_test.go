package stschain_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stschain/stschain"
	"github.com/stschain/stschain/ststest"
)

// exampleServer starts a fake STS that knows the user alice (with an MFA
// device, whose codes srv.TokenCode reads), and roles B (trusting alice), A
// (trusting B) and Admin (trusting alice, requiring MFA).
func exampleServer() *ststest.Server {
	return ststest.NewServer(ststest.Config{
		AccountID: "123456789012",
		Users: []ststest.User{{
			Name: "alice", AccessKeyID: "AKIAALICEEXAMPLE01", SecretAccessKey: "alice-secret",
			MFASerial: "arn:aws:iam::123456789012:mfa/alice",
		}},
		Roles: []ststest.Role{
			{ARN: "arn:aws:iam::123456789012:role/B", Trust: []string{"arn:aws:iam::123456789012:user/alice"}},
			{ARN: "arn:aws:iam::123456789012:role/A", Trust: []string{"arn:aws:iam::123456789012:role/B"}},
			{ARN: "arn:aws:iam::123456789012:role/Admin", Trust: []string{"arn:aws:iam::123456789012:user/alice"}, RequireMFA: true},
			{ARN: "arn:aws:iam::210987654321:role/Customer", Trust: []string{"arn:aws:iam::123456789012:role/B"}, ExternalID: "customer-21"},
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
	for _, c := range srv.Calls(ststest.Call{Action: "AssumeRole"}) {
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
			return srv.TokenCode(ctx, serial) // stschain.PromptTokenCode asks the user
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
			return srv.TokenCode(ctx, serial)
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

// NewChain builds the same chain from a list of links, bottom first.
func ExampleNewChain() {
	srv := exampleServer()
	defer srv.Close()
	cfg := srv.AWSConfig("alice")

	a, err := stschain.NewChain(cfg,
		stschain.Options{RoleARN: "arn:aws:iam::123456789012:role/B", RoleSessionName: "session-b"},
		stschain.Options{RoleARN: "arn:aws:iam::123456789012:role/A", RoleSessionName: "session-a"},
	)
	if err != nil {
		log.Fatal(err)
	}
	whoami(cfg, a)
	// Output:
	// arn:aws:sts::123456789012:assumed-role/A/session-a
}

// A service that assumes a role in each customer's account through one hub
// role keeps one Pool: one STS client and one refresh budget for all.
func ExamplePool() {
	srv := exampleServer()
	defer srv.Close()
	cfg := srv.AWSConfig("alice")

	hub, err := stschain.New(cfg, func(o *stschain.Options) {
		o.RoleARN = "arn:aws:iam::123456789012:role/B"
		o.RoleSessionName = "hub"
	})
	if err != nil {
		log.Fatal(err)
	}
	pool, err := stschain.NewPool(cfg, func(po *stschain.PoolOptions) {
		po.MaxConcurrentRefreshes = 16
		po.MaxCallsPerSecond = 50
		po.Options = []func(*stschain.Options){func(o *stschain.Options) {
			o.MasterCredentials = hub
			o.RoleSessionName = "saas"
		}}
	})
	if err != nil {
		log.Fatal(err)
	}
	customer := func(account, externalID string) *stschain.ChainableProvider {
		p, err := pool.Get(func(o *stschain.Options) {
			o.RoleARN = "arn:aws:iam::" + account + ":role/Customer"
			o.ExternalID = externalID
		})
		if err != nil {
			log.Fatal(err)
		}
		return p
	}
	p := customer("210987654321", "customer-21")
	whoami(cfg, p)
	fmt.Println(p == customer("210987654321", "customer-21"), pool.Len())
	// Output:
	// arn:aws:sts::210987654321:assumed-role/Customer/saas
	// true 1
}

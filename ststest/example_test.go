package ststest_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stschain/stschain/ststest"
)

func Example() {
	srv := ststest.NewServer(ststest.Config{
		AccountID: "123456789012",
		Users: []ststest.User{{
			Name: "alice", AccessKeyID: "AKIAALICE00000000000", SecretAccessKey: "alice-secret",
		}},
		Roles: []ststest.Role{{
			ARN:   "arn:aws:iam::123456789012:role/Deploy",
			Trust: []string{"arn:aws:iam::123456789012:user/alice"},
		}},
	})
	defer srv.Close()

	ctx := context.Background()
	client := sts.NewFromConfig(srv.AWSConfig("alice"))
	id, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(aws.ToString(id.Arn))

	out, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String("arn:aws:iam::123456789012:role/Deploy"),
		RoleSessionName: aws.String("deploy"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(aws.ToString(out.AssumedRoleUser.Arn))
	for _, c := range srv.Calls() {
		fmt.Println(c.Action, c.CallerAccessKeyID, c.Status)
	}
	// Output:
	// arn:aws:iam::123456789012:user/alice
	// arn:aws:sts::123456789012:assumed-role/Deploy/deploy
	// GetCallerIdentity AKIAALICE00000000000 200
	// AssumeRole AKIAALICE00000000000 200
}

// A test reaches an in-memory server without sockets. Inside a
// testing/synctest bubble (synctest.Test), time.Sleep then moves the
// server's clock as well: sessions expire in no real time.
func ExampleNewInMemoryServer() {
	srv := ststest.NewInMemoryServer(ststest.Config{
		AccountID: "123456789012",
		Users: []ststest.User{{
			Name: "alice", AccessKeyID: "AKIAALICE00000000000", SecretAccessKey: "alice-secret",
		}},
		Roles: []ststest.Role{{
			ARN:   "arn:aws:iam::123456789012:role/Deploy",
			Trust: []string{"arn:aws:iam::123456789012:user/alice"},
		}},
	})
	defer srv.Close()

	client := sts.NewFromConfig(srv.AWSConfig("alice"))
	out, err := client.AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn:         aws.String("arn:aws:iam::123456789012:role/Deploy"),
		RoleSessionName: aws.String("deploy"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(srv.URL)
	fmt.Println(aws.ToString(out.AssumedRoleUser.Arn))
	fmt.Println(len(srv.Calls(ststest.Call{Action: "AssumeRole", Status: 200})))
	// Output:
	// http://ststest.invalid
	// arn:aws:sts::123456789012:assumed-role/Deploy/deploy
	// 1
}

// The server plays the MFA device too: TokenCode has the signature of
// stschain.TokenCodeFunc, so options can take srv.TokenCode.
func ExampleServer_TokenCode() {
	const serial = "arn:aws:iam::123456789012:mfa/alice"
	srv := ststest.NewInMemoryServer(ststest.Config{
		AccountID: "123456789012",
		Users: []ststest.User{{
			Name: "alice", AccessKeyID: "AKIAALICE00000000000", SecretAccessKey: "alice-secret",
			MFASerial: serial,
		}},
	})
	defer srv.Close()

	ctx := context.Background()
	client := sts.NewFromConfig(srv.AWSConfig("alice"))
	for range 2 {
		code, err := srv.TokenCode(ctx, serial)
		if err != nil {
			fmt.Println(err)
			return
		}
		_, err = client.GetSessionToken(ctx, &sts.GetSessionTokenInput{
			SerialNumber: aws.String(serial), TokenCode: aws.String(code),
		})
		fmt.Println(len(code), err)
	}
	_, err := srv.TokenCode(ctx, "arn:aws:iam::123456789012:mfa/bob")
	fmt.Println(err)
	// Output:
	// 6 <nil>
	// 6 <nil>
	// ststest: no user in Config.Users has the MFA device "arn:aws:iam::123456789012:mfa/bob"
}

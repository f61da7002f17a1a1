package credserver_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/credserver"
	"github.com/stschain/stschain/ststest"
)

// A chain served to a child: the child's environment gets the two
// variables of Env, and its SDK fetches fresh credentials from the server
// whenever it needs them. Here the SDK's own endpoint provider stands in for
// the child.
func Example() {
	fake := ststest.NewServer(ststest.Config{
		AccountID: "123456789012",
		Users:     []ststest.User{{Name: "alice", AccessKeyID: "AKIAALICEEXAMPLE01", SecretAccessKey: "alice-secret"}},
		Roles:     []ststest.Role{{ARN: "arn:aws:iam::123456789012:role/deploy", Trust: []string{"arn:aws:iam::123456789012:user/alice"}}},
	})
	defer fake.Close()
	cfg := fake.AWSConfig("alice")

	chain, err := stschain.New(cfg, func(o *stschain.Options) {
		o.RoleARN = "arn:aws:iam::123456789012:role/deploy"
		o.RoleSessionName = "child"
	})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := credserver.Start(chain)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	// What a child's environment gets (cmd.Env = append(environ, srv.Env()...)).
	env := map[string]string{}
	for _, kv := range srv.Env() {
		name, value, _ := strings.Cut(kv, "=")
		env[name] = value
		fmt.Println(name)
	}

	// What the child's SDK does with it.
	cfg.Credentials = endpointcreds.New(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], func(o *endpointcreds.Options) {
		o.AuthorizationToken = env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
	})
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(aws.ToString(out.Arn))
	// Output:
	// AWS_CONTAINER_CREDENTIALS_FULL_URI
	// AWS_CONTAINER_AUTHORIZATION_TOKEN
	// arn:aws:sts::123456789012:assumed-role/deploy/child
}

// Command sdkchild is a Go program as users write them: it loads its
// configuration with config.LoadDefaultConfig and calls STS
// GetCallerIdentity every -every, printing "ok ARN" for each call, until
// it has seen -sessions sessions (distinct ARNs) and the file -until, when
// given, exists. With -keys it tells sessions by their access key IDs
// instead, for sessions of one ARN (an SSO role's), and prints
// "ok ARN KEY". It exits 1 at the first call that fails.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func main() {
	sessions := flag.Int("sessions", 1, "how many sessions to see")
	until := flag.String("until", "", "a file whose existence ends the calls too")
	every := flag.Duration("every", 100*time.Millisecond, "pause between calls")
	byKey := flag.Bool("keys", false, "tell sessions by their access key IDs")
	flag.Parse()

	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	client := sts.NewFromConfig(cfg)
	seen := map[string]bool{}
	for len(seen) < *sessions || !exists(*until) {
		creds, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		session := aws.ToString(out.Arn)
		if *byKey {
			session += " " + creds.AccessKeyID
		}
		fmt.Println("ok", session)
		seen[session] = true
		time.Sleep(*every)
	}
}

// exists reports whether the file path exists; true for "".
func exists(path string) bool {
	if path == "" {
		return true
	}
	_, err := os.Stat(path)
	return err == nil
}

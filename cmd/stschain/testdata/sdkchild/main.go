// Command sdkchild is a Go program as users write them: it loads its
// configuration with config.LoadDefaultConfig and calls STS
// GetCallerIdentity every -every, printing "ok ARN" for each call, until
// it has seen -sessions sessions (distinct ARNs) and the file -until, when
// given, exists. It exits 1 at the first call that fails.
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
		out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("ok", aws.ToString(out.Arn))
		seen[aws.ToString(out.Arn)] = true
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

// Command sdkchild is a Go program as users write them: it loads its
// configuration with config.LoadDefaultConfig and calls STS
// GetCallerIdentity every -every until -for has passed, printing "ok ARN"
// for each call. It exits 1 at the first call that fails.
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
	runFor := flag.Duration("for", time.Minute, "how long to keep calling")
	every := flag.Duration("every", 500*time.Millisecond, "pause between calls")
	flag.Parse()

	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	client := sts.NewFromConfig(cfg)
	for end := time.Now().Add(*runFor); time.Now().Before(end); time.Sleep(*every) {
		out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("ok", aws.ToString(out.Arn))
	}
}

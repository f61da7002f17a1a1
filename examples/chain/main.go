// Command chain shows a two-link credential chain refreshing itself: role A
// assumed from role B assumed from the user alice, against an in-process fake
// STS (package ststest) with sessions that live a few seconds, so that no AWS
// account is needed and every refresh happens while you watch.
//
//	go run ./examples/chain
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stschain/stschain"
	"github.com/stschain/stschain/ststest"
)

const (
	account = "123456789012"
	roleA   = "arn:aws:iam::" + account + ":role/A"
	roleB   = "arn:aws:iam::" + account + ":role/B"
)

func main() {
	log.SetFlags(0)
	steps := 12
	if err := run(os.Stdout, steps, time.Second); err != nil {
		log.Fatal(err)
	}
}

func run(w *os.File, steps int, every time.Duration) error {
	srv := ststest.NewServer(ststest.Config{
		AccountID: account,
		Users:     []ststest.User{{Name: "alice", AccessKeyID: "AKIAALICEEXAMPLE01", SecretAccessKey: "alice-secret"}},
		Roles: []ststest.Role{
			// Short lifetimes stand in for the usual hour: B lives 8 s, A 4 s.
			{ARN: roleB, Trust: []string{"arn:aws:iam::" + account + ":user/alice"}, Lifetime: 8 * time.Second},
			{ARN: roleA, Trust: []string{roleB}, Lifetime: 4 * time.Second},
		},
	})
	defer srv.Close()
	fmt.Fprintf(w, "fake STS at %s; user alice -> role B (8 s sessions) -> role A (4 s sessions)\n\n", srv.URL)

	cfg := srv.AWSConfig("alice")
	start := time.Now()
	onRefresh := func(ev stschain.RefreshEvent) {
		mode := "a caller waited"
		if ev.Background {
			mode = "in the background"
		}
		fmt.Fprintf(w, "  %5.1fs  refresh of %s: %s, %s, took %v, new session expires in %.1fs\n",
			time.Since(start).Seconds(), short(ev.Link), ev.Outcome, mode,
			ev.Latency.Round(time.Millisecond), time.Until(ev.Expires).Seconds())
	}
	b, err := stschain.New(cfg, func(o *stschain.Options) {
		o.RoleARN = roleB
		o.RoleSessionName = "demo-b"
		o.OnRefresh = onRefresh
	})
	if err != nil {
		return err
	}
	a, err := stschain.New(cfg, func(o *stschain.Options) {
		o.RoleARN = roleA
		o.RoleSessionName = "demo-a"
		o.MasterCredentials = b // A is assumed with B's current session
		o.OnRefresh = onRefresh
	})
	if err != nil {
		return err
	}

	// A client that uses role A, as a program would.
	cfg.Credentials = a
	client := sts.NewFromConfig(cfg)
	ctx := context.Background()
	for step := range steps {
		if step > 0 {
			time.Sleep(every)
		}
		creds, err := a.Retrieve(ctx)
		if err != nil {
			return err
		}
		id, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%5.1fs  I am %s (key %s, %.1fs left); AssumeRole calls so far: B=%d A=%d\n",
			time.Since(start).Seconds(), aws.ToString(id.Arn), creds.AccessKeyID,
			time.Until(creds.Expires).Seconds(), count(srv, roleB), count(srv, roleA))
	}
	fmt.Fprintf(w, "\nAfter %d steps: B was assumed %d times by alice, A %d times, each time with B's session of the moment.\n",
		steps, count(srv, roleB), count(srv, roleA))
	return nil
}

func count(srv *ststest.Server, role string) int {
	n := 0
	for _, c := range srv.CallsFor("AssumeRole") {
		if c.RoleARN == role && c.ErrorCode == "" {
			n++
		}
	}
	return n
}

func short(arn string) string { return arn[strings.LastIndex(arn, ":")+1:] }

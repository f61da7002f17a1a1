// Command chain shows a two-link credential chain refreshing itself: role A
// assumed from role B assumed from the user alice, against an in-process fake
// STS (package ststest) with sessions that live a few seconds, so that no AWS
// account is needed and every refresh happens while you watch.
//
// It shows what the library promises: after the first fetch of each link,
// every refresh runs in the background, ahead of expiry, and no caller
// waits for STS; B, the master, is refreshed only when its own session is
// due, and each AssumeRole of A is signed with B's session of the moment.
//
//	go run ./examples/chain
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"sync"
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
	srv := ststest.NewServer(config())
	defer srv.Close()
	if err := run(os.Stdout, srv, 12, time.Second); err != nil {
		log.Fatal(err)
	}
}

// config declares alice and the two roles. Short lifetimes stand in for
// the usual hour: B lives 8 s, A 4 s.
func config() ststest.Config {
	return ststest.Config{
		AccountID: account,
		Users:     []ststest.User{{Name: "alice", AccessKeyID: "AKIAALICEEXAMPLE01", SecretAccessKey: "alice-secret"}},
		Roles: []ststest.Role{
			{ARN: roleB, Trust: []string{"arn:aws:iam::" + account + ":user/alice"}, Lifetime: 8 * time.Second},
			{ARN: roleA, Trust: []string{roleB}, Lifetime: 4 * time.Second},
		},
	}
}

// run shows the chain for steps steps, one every every, and sums up what
// it saw.
func run(w io.Writer, srv *ststest.Server, steps int, every time.Duration) error {
	fmt.Fprintf(w, "fake STS at %s; user alice -> role B (8 s sessions) -> role A (4 s sessions)\n\n", srv.URL)

	cfg := srv.AWSConfig("alice")
	start := time.Now()
	var mu sync.Mutex
	waited := map[string]int{} // refreshes a caller waited for, by link
	background := 0
	onRefresh := func(ev stschain.RefreshEvent) {
		mu.Lock()
		defer mu.Unlock()
		mode := "a caller waited"
		if ev.Background {
			mode = "in the background"
			background++
		} else {
			waited[short(ev.Link)]++
		}
		fmt.Fprintf(w, "  %5.1fs  refresh of %s: %s, %s, took %v, new session expires in %.1fs\n",
			time.Since(start).Seconds(), short(ev.Link), ev.Outcome, mode,
			ev.Latency.Round(time.Millisecond), time.Until(ev.Expires).Seconds())
	}
	a, err := stschain.NewChain(cfg,
		stschain.Options{RoleARN: roleB, RoleSessionName: "demo-b", OnRefresh: onRefresh},
		stschain.Options{RoleARN: roleA, RoleSessionName: "demo-a", OnRefresh: onRefresh}, // assumed with B's current session
	)
	if err != nil {
		return err
	}

	// A client that uses role A, as a program would.
	cfg.Credentials = a
	client := sts.NewFromConfig(cfg)
	ctx := context.Background()
	var slowest time.Duration
	for step := range steps {
		if step > 0 {
			time.Sleep(every)
		}
		t0 := time.Now()
		creds, err := a.Retrieve(ctx)
		if err != nil {
			return err
		}
		if step > 0 {
			slowest = max(slowest, time.Since(t0))
		}
		id, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return err
		}
		mu.Lock()
		fmt.Fprintf(w, "%5.1fs  I am %s (key %s, %.1fs left); AssumeRole calls so far: B=%d A=%d\n",
			time.Since(start).Seconds(), aws.ToString(id.Arn), creds.AccessKeyID,
			time.Until(creds.Expires).Seconds(), count(srv, roleB), count(srv, roleA))
		mu.Unlock()
	}
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(w, "\nAfter %d steps: B was assumed %d times by alice, A %d times, each time with B's session of the moment.\n",
		steps, count(srv, roleB), count(srv, roleA))
	fmt.Fprintf(w, "Callers waited for STS on %d refresh(es) of A and %d of B: the first fetch of each. %d refreshes ran in the background.\n",
		waited["role/A"], waited["role/B"], background)
	fmt.Fprintf(w, "The slowest Retrieve after the first took %v.\n", slowest)
	return nil
}

func count(srv *ststest.Server, role string) int {
	return len(srv.Calls(ststest.Call{Action: "AssumeRole", RoleARN: role, Status: 200}))
}

func short(arn string) string { return arn[strings.LastIndex(arn, ":")+1:] }

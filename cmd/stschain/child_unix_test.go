//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// The test binary is also the command the signal tests give exec (see
// TestMain). A shell script with traps would do the
// same, but dash runs a trap that arrives just as its wait builtin starts
// only when the awaited child exits: about one signal in a hundred would
// wait for the script's sleep to end.
const (
	// childSignals: count the signals of childCounted, one line each
	// ("got HUP 1"), until SIGTERM, which ends the grandchild, prints
	// every count and exits 42. It first starts its grandchild and
	// prints "ready PID GRANDCHILD_PID".
	childSignals = "signals"
	// childSleeper: the grandchild, which sleeps, deaf to the keyboard
	// signals as a shell's background job is, and ends by itself after
	// sleeperLife.
	childSleeper = "sleeper"
	sleeperLife  = 5 * time.Minute
	// childIdentity: load the configuration as a Go program does
	// (config.LoadDefaultConfig), print "key ACCESS_KEY_ID" of the
	// credentials it finds and "arn ARN" of STS GetCallerIdentity with
	// them, and exit 0; "error: ..." and exit 1 when either fails.
	childIdentity = "identity"
	// childKey: do as childIdentity without the STS call: print
	// "key ACCESS_KEY_ID", or "error: ..." and exit 1.
	childKey = "key"
	// childLater: a job left behind: print "url" and the value of
	// AWS_CONTAINER_CREDENTIALS_FULL_URI, wait until the file
	// $STSCHAIN_TEST_GO exists (at most testTime), then do as childKey.
	childLater = "later"
	laterGoEnv = "STSCHAIN_TEST_GO"
)

// childCounted are the signals the child counts, in the order of its
// lines.
var childCounted = []struct {
	sig  syscall.Signal
	name string
}{
	{syscall.SIGHUP, "HUP"}, {syscall.SIGINT, "INT"}, {syscall.SIGQUIT, "QUIT"},
	{syscall.SIGUSR1, "USR1"}, {syscall.SIGUSR2, "USR2"}, {syscall.SIGALRM, "ALRM"},
}

// testChild runs the test binary as the child mode names, and returns its
// exit status.
func testChild(mode string) int {
	switch mode {
	case childSleeper:
		signal.Ignore(syscall.SIGINT, syscall.SIGQUIT)
		time.Sleep(sleeperLife)
		return 0
	case childSignals:
		return signalsChild()
	case childIdentity:
		return identityChild()
	case childKey:
		return keyChild()
	case childLater:
		return laterChild()
	}
	fmt.Fprintf(os.Stderr, "unknown %s %q\n", testChildEnv, mode)
	return 2
}

func signalsChild() int {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM)
	for _, c := range childCounted {
		signal.Notify(sigs, c.sig)
	}
	grandchild := exec.Command(os.Args[0])
	grandchild.Env = append(os.Environ(), testChildEnv+"="+childSleeper)
	grandchild.Stdout = os.Stdout // held open while it lives
	if err := grandchild.Start(); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Printf("ready %d %d\n", os.Getpid(), grandchild.Process.Pid)
	counts := map[os.Signal]int{}
	for sig := range sigs {
		if sig != syscall.SIGTERM {
			counts[sig]++
			fmt.Printf("got %s %d\n", sigName(sig), counts[sig])
			continue
		}
		_ = grandchild.Process.Kill()
		_ = grandchild.Wait()
		line := "got TERM"
		for _, c := range childCounted {
			line += fmt.Sprintf(" %s=%d", c.name, counts[c.sig])
		}
		fmt.Println(line)
		return 42
	}
	return 1
}

// sigName is the name of one of childCounted, or of SIGTERM, without
// SIG.
func sigName(sig os.Signal) string {
	for _, c := range childCounted {
		if c.sig == sig {
			return c.name
		}
	}
	if sig == syscall.SIGTERM {
		return "TERM"
	}
	return sig.String()
}

func identityChild() int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err == nil {
		var creds aws.Credentials
		if creds, err = cfg.Credentials.Retrieve(ctx); err == nil {
			fmt.Println("key", creds.AccessKeyID)
			var out *sts.GetCallerIdentityOutput
			if out, err = sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil {
				fmt.Println("arn", aws.ToString(out.Arn))
				return 0
			}
		}
	}
	fmt.Println("error:", err)
	return 1
}

func laterChild() int {
	fmt.Println("url", os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
	for deadline := time.Now().Add(testTime); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(os.Getenv(laterGoEnv)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			fmt.Println("error: never told to go")
			return 1
		}
	}
	return keyChild()
}

func keyChild() int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err == nil {
		var creds aws.Credentials
		if creds, err = cfg.Credentials.Retrieve(ctx); err == nil {
			fmt.Println("key", creds.AccessKeyID)
			return 0
		}
	}
	fmt.Println("error:", err)
	return 1
}

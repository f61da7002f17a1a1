// Command ststest runs the fake STS server of package
// github.com/stschain/stschain/ststest until SIGINT or SIGTERM.
//
// Usage:
//
//	ststest -config config.json [-addr 127.0.0.1:0]
//
// The config file is a JSON ststest.Config (see ststest.ParseConfig): keys
// are the Go field names, durations are Go duration strings such as "10s"
// or plain integer seconds such as 3600, and times are RFC 3339 strings.
// For example:
//
//	{
//	  "AccountID": "123456789012",
//	  "Region": "us-east-1",
//	  "MaxCalls": 1000,
//	  "Users": [{"Name": "alice", "AccessKeyID": "AKIAALICE00000000000",
//	             "SecretAccessKey": "alice-secret",
//	             "MFASerial": "arn:aws:iam::123456789012:mfa/alice",
//	             "TOTPSecret": "JBSWY3DPEHPK3PXP"}],
//	  "Roles": [{"ARN": "arn:aws:iam::123456789012:role/A",
//	             "Trust": ["arn:aws:iam::123456789012:user/alice"],
//	             "MaxSessionDuration": "12h", "Lifetime": 30},
//	            {"ARN": "arn:aws:iam::123456789012:role/CI",
//	             "Trust": ["arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"]}],
//	  "WebIdentityTokens": [{"Token": "eyJhbGciOi...",
//	             "Provider": "token.actions.githubusercontent.com",
//	             "Subject": "repo:octo/app:ref:refs/heads/main",
//	             "Expires": "2030-01-01T00:00:00Z"}]
//	}
//
// The first line on standard output is "LISTEN http://127.0.0.1:PORT".
// The server listens on 127.0.0.1 only. It exits 0 after a signal, 2 on a
// bad flag or config, 1 when it cannot listen.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/stschain/stschain/ststest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ststest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "JSON `file` with the server's Config (required)")
	addr := fs.String("addr", "127.0.0.1:0", "`address` to listen on; the host must be 127.0.0.1")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *configPath == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "usage: ststest -config file.json [-addr 127.0.0.1:0]")
		return 2
	}
	data, err := os.ReadFile(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, "ststest:", err)
		return 2
	}
	cfg, err := ststest.ParseConfig(data)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := listenLoopback(*addr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	srv := ststest.NewUnstartedServer(cfg) // cfg is valid: ParseConfig checked it
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	// os.Stdout is unbuffered: the line is written (flushed) at once.
	if _, err := fmt.Fprintf(stdout, "LISTEN %s\n", srv.URL); err != nil {
		return 1
	}
	if f, ok := stdout.(interface{ Sync() error }); ok {
		_ = f.Sync()
	}
	<-ctx.Done()
	return 0
}

// listenLoopback listens on addr, whose host must be 127.0.0.1: the
// server hands out credentials to whoever asks, so it never listens on
// an address other hosts can reach.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("ststest: address %q: %w", addr, err)
	}
	if host != "127.0.0.1" {
		return nil, fmt.Errorf("ststest: address %q: only 127.0.0.1 is allowed", addr)
	}
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		return nil, fmt.Errorf("ststest: listen: %w", err)
	}
	return ln, nil
}

package keyring_test

import (
	"context"
	"fmt"
	"os"

	"github.com/stschain/stschain/keyring"
)

// A profile's keys in the file backend, found and retrieved as a chain
// does, and printed without their secret.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "keyring-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	k, err := keyring.Open(keyring.Options{
		Backend: keyring.BackendFile,
		FileDir: dir,
		Passphrase: func(_ context.Context, _ string, create bool) (string, error) {
			return "correct horse battery staple", nil // a prompt, in a program
		},
	})
	if err != nil {
		panic(err)
	}
	keys := keyring.NewKeys("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	if err := k.Set(ctx, "alice", keys); err != nil {
		panic(err)
	}
	fmt.Println(keys)

	p, err := keyring.Lookup(ctx, "alice", k)
	if err != nil {
		panic(err)
	}
	creds, err := p.Retrieve(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(creds.AccessKeyID, creds.SessionToken == "")

	p, err = keyring.Lookup(ctx, "bob", k)
	fmt.Println(p, err)
	// Output:
	// keyring.Keys{AccessKeyID: ****************MPLE, SecretAccessKey: redacted}
	// AKIAIOSFODNN7EXAMPLE true
	// <nil> <nil>
}

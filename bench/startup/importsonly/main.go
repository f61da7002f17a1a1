// Command importsonly prints the JSON in $FLOOR_OUTPUT, as the floor does,
// from a program that imports package awsprofile (and with it stschain
// and the AWS SDK's STS, SSO, SSO OIDC and sign-in clients) and uses
// none of it: what any program that reads AWS profiles with stschain
// pays to start, before it does anything.
package main

import (
	"os"

	_ "github.com/stschain/stschain/awsprofile"
)

func main() {
	if _, err := os.Stdout.WriteString(os.Getenv("FLOOR_OUTPUT")); err != nil {
		os.Exit(1)
	}
}

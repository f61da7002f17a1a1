// Command floor prints the JSON in $FLOOR_OUTPUT and nothing else: the
// least a credential_process can do, against which bench/startup measures
// stschain credential-process.
package main

import "os"

func main() {
	if _, err := os.Stdout.WriteString(os.Getenv("FLOOR_OUTPUT")); err != nil {
		os.Exit(1)
	}
}

//go:build !unix

package awsprofile

import "os"

// openNonBlocking opens path for reading; readTokenFile refuses what is
// not a regular file before reading from it.
func openNonBlocking(path string) (*os.File, error) { return os.Open(path) }

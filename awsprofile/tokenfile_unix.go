//go:build unix

package awsprofile

import (
	"os"

	"golang.org/x/sys/unix"
)

// openNonBlocking opens path for reading with O_NONBLOCK, so that opening
// a FIFO does not wait for a writer, and without making a terminal the
// controlling one.
func openNonBlocking(path string) (*os.File, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}

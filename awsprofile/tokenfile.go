package awsprofile

import (
	"fmt"
	"io"
	"io/fs"
)

// maxTokenFile bounds what a token file may hold: a web identity token
// (a JWT) or a container authorization token is a few KiB, and STS takes
// a web identity token of 20,000 characters at most.
const maxTokenFile = 256 << 10

// readTokenFile reads a web identity token file or a container
// authorization token file: a regular file (a symbolic link to one is
// followed, as Kubernetes' projected tokens are such links) of at most
// maxTokenFile bytes. It opens the file without blocking, so that a FIFO
// planted in its place is refused at once instead of hanging the read,
// and refuses devices (/dev/zero), directories and anything else that is
// not a regular file, with an error that says what it is.
func readTokenFile(path string) ([]byte, error) {
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, fmt.Errorf("reading token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("token file %s is %s, not a regular file", path, fileKind(fi.Mode()))
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading token file: %w", err)
	}
	if len(data) > maxTokenFile {
		return nil, fmt.Errorf("token file %s holds more than %d KiB: a token is a few KiB", path, maxTokenFile>>10)
	}
	return data, nil
}

// fileKind names what a file of mode m is.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return "not a regular file (mode " + m.String() + ")"
}

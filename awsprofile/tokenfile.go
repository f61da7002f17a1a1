package awsprofile

import (
	"errors"
	"fmt"

	"github.com/stschain/stschain/internal/safefile"
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
	data, err := safefile.ReadFile(path, true, maxTokenFile)
	var nr *safefile.NotRegularError
	switch {
	case errors.As(err, &nr):
		return nil, fmt.Errorf("token file %w", nr)
	case errors.Is(err, safefile.ErrTooLarge):
		return nil, fmt.Errorf("token file %s holds more than %d KiB: a token is a few KiB", path, maxTokenFile>>10)
	case err != nil:
		return nil, fmt.Errorf("reading token file: %w", err)
	}
	return data, nil
}

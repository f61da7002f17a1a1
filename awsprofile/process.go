package awsprofile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/stschain/stschain/internal/credcheck"
	"github.com/stschain/stschain/internal/stslimits"
)

// maxProcessOutput bounds what a credential_process may print: its JSON
// is a few KiB at most.
const maxProcessOutput = 64 << 10

// maxProcessLifetime is the longest a credential_process's credentials
// may be cached for: the longest session STS grants.
const maxProcessLifetime = stslimits.MaxGetSessionTokenDuration

// processRoot is a credential_process root: the SDK's provider, run as the
// SDK runs it (through the shell, with this process's environment, stdin
// and stderr), reading at most maxProcessOutput of its output, and
// quoting nothing of that output in its errors.
type processRoot struct {
	p       *processcreds.Provider
	profile string
}

// processOutput is the output of one run, bounded.
type processOutput struct {
	buf  bytes.Buffer
	over bool // the process printed more than maxProcessOutput
}

// errTooMuchOutput stops the copy of a process's output (maxProcessOutput).
var errTooMuchOutput = errors.New("the output is longer than 64 KiB")

func (o *processOutput) Write(p []byte) (int, error) {
	if o.buf.Len()+len(p) > maxProcessOutput {
		o.over = true
		return 0, errTooMuchOutput
	}
	return o.buf.Write(p)
}

type processOutputKey struct{}

// processCommand builds the command as the SDK's default builder does,
// with its output going to the run's processOutput.
type processCommand string

func (c processCommand) NewCommand(ctx context.Context) (*exec.Cmd, error) {
	cmd, err := processcreds.DefaultNewCommandBuilder{Args: []string{string(c)}}.NewCommand(ctx)
	if err != nil {
		return nil, err
	}
	if out, ok := ctx.Value(processOutputKey{}).(*processOutput); ok {
		cmd.Stdout = out
	}
	return cmd, nil
}

func (l *loader) processProvider(r rootPlan) *processRoot {
	var opts []func(*processcreds.Options)
	if l.sdkOpts.ProcessCredentialOptions != nil {
		opts = append(opts, l.sdkOpts.ProcessCredentialOptions)
	}
	return &processRoot{p: processcreds.NewProviderCommand(processCommand(r.process), opts...), profile: r.profile}
}

func (p *processRoot) Retrieve(ctx context.Context) (aws.Credentials, error) {
	out := &processOutput{}
	c, err := p.p.Retrieve(context.WithValue(ctx, processOutputKey{}, out))
	prefix := fmt.Sprintf("awsprofile: profile %q: credential_process", p.profile)
	if err == nil {
		if err := credcheck.Check(c.AccessKeyID, c.SecretAccessKey, c.SessionToken); err != nil {
			// Keys a shell or an HTTP header would interpret.
			return aws.Credentials{}, fmt.Errorf("%s printed credentials AWS does not issue: %w", prefix, err)
		}
		return c, nil
	}
	switch {
	case out.over:
		return aws.Credentials{}, fmt.Errorf("%s printed more than %d KiB: want one JSON object of a few hundred bytes", prefix, maxProcessOutput>>10)
	case strings.Contains(err.Error(), "parse failed of process output"):
		// The SDK's message quotes the whole output, which may be the
		// keys in another format: say only how long it was and what it
		// looked like.
		return aws.Credentials{}, fmt.Errorf("%s printed %d bytes that are not a JSON object (%s): want {\"Version\": 1, \"AccessKeyId\": ..., \"SecretAccessKey\": ...}",
			prefix, out.buf.Len(), shape(out.buf.Bytes()))
	}
	return aws.Credentials{}, fmt.Errorf("%s: %w", prefix, err)
}

// shape describes data without a character of what it holds: each run of
// letters, digits and the characters of keys and tokens (+ / = _ -) is
// its length in angle brackets; spaces, newlines and JSON punctuation are
// kept; anything else is a '?'. It is cut after 60 characters.
func shape(data []byte) string {
	var b strings.Builder
	for i := 0; i < len(data); {
		if b.Len() >= 60 {
			b.WriteString("...")
			break
		}
		c := data[i]
		switch {
		case isKeyChar(c):
			j := i
			for j < len(data) && isKeyChar(data[j]) {
				j++
			}
			fmt.Fprintf(&b, "<%d>", j-i)
			i = j
			continue
		case strings.IndexByte(" \t\r\n{}[]\":,.", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('?')
		}
		i++
	}
	return "looks like " + strconv.Quote(b.String())
}

func isKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("+/=_-", c) >= 0
}

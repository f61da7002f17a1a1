package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// errNoTerminal is why a question that only the user may answer cannot be
// asked: there is no terminal (a pipeline, a service, a CI job).
var errNoTerminal = errors.New("no terminal to ask on")

// tty is the user's terminal, for the questions whose answers must come
// from the user and never from a pipe or a file: the keys of add, a file
// keyring's passphrase, the confirmation of remove. Questions go to the
// terminal itself, never to stdout.
type tty struct {
	in, out *os.File
	lines   *bufio.Reader // of in
}

// openTTY opens the controlling terminal (see openTerminal).
func openTTY() (*tty, error) {
	in, out, err := openTerminal()
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", errNoTerminal, err)
	}
	return &tty{in: in, out: out, lines: bufio.NewReader(in)}, nil
}

// Close closes the terminal.
func (t *tty) Close() {
	t.in.Close()
	if t.out != t.in {
		t.out.Close()
	}
}

// ask writes question and reads the line typed. When ctx ends first it
// returns ctx's error at once; the read left behind ends with the process.
func (t *tty) ask(ctx context.Context, question string) (string, error) {
	fmt.Fprint(t.out, question)
	type answer struct {
		line string
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		line, err := t.lines.ReadString('\n')
		if err != nil && line != "" {
			err = nil // the last line, without its end
		}
		done <- answer{strings.TrimRight(line, "\r\n"), err}
	}()
	select {
	case a := <-done:
		return a.line, a.err
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
}

// askSecret writes question and reads the line typed, which the terminal
// does not show: it stops showing what is typed before the question
// appears. When ctx ends first (Ctrl-C) it returns ctx's error at once.
// Either way the terminal shows what is typed again.
func (t *tty) askSecret(ctx context.Context, question string) (string, error) {
	restore, err := echoOff(t.in)
	if err != nil {
		return "", fmt.Errorf("%w (%v)", errNoTerminal, err)
	}
	defer restore()
	s, err := t.ask(ctx, question)
	fmt.Fprintln(t.out) // the Enter the terminal did not show
	return s, err
}

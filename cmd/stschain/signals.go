package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// forwardedSignals end the credential phase, and are passed on to exec's
// command once it runs.
var forwardedSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// signalCause is the cause of a context withSignals cancelled.
type signalCause struct{ sig os.Signal }

func (c signalCause) Error() string { return "stschain: received " + c.sig.String() }

// withSignals returns ctx cancelled, with a signalCause, by the first SIGINT
// or SIGTERM, until stop is called.
func withSignals(ctx context.Context) (_ context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, forwardedSignals...)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		select {
		case s := <-sigs:
			cancel(signalCause{s})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		<-finished
		cancel(nil)
	}
}

// signalOf returns the signal that cancelled ctx, or nil.
func signalOf(ctx context.Context) os.Signal {
	var c signalCause
	if errors.As(context.Cause(ctx), &c) {
		return c.sig
	}
	return nil
}

// interrupted reports that sig stopped the command and returns 128+N.
func interrupted(stderr io.Writer, sig os.Signal) int {
	fmt.Fprintf(stderr, "stschain: interrupted by %v\n", sig)
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitError
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

// signalCause is the cause of a context withSignals cancelled.
type signalCause struct{ sig os.Signal }

func (c signalCause) Error() string { return "stschain: received " + c.sig.String() }

// withSignals returns ctx cancelled, with a signalCause, by the first of
// forwardedSignals, until stop is called.
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

// pendingSignal returns the signal, if any, that arrived after ctx of
// withSignals was last looked at: one that cancelled ctx, else one waiting
// in sigs.
func pendingSignal(ctx context.Context, sigs <-chan os.Signal) os.Signal {
	if sig := signalOf(ctx); sig != nil {
		return sig
	}
	select {
	case sig := <-sigs:
		return sig
	default:
		return nil
	}
}

// reachedCommand reports whether sig, received while exec's command runs,
// has most likely reached the command already, so that passing it on
// would deliver it twice. That is the case of a keyboard signal (SIGINT,
// SIGQUIT) while stschain's process group, which the command shares, is
// the foreground group of its terminal: it comes from the keyboard
// (Ctrl-C, Ctrl-\), and the terminal sends it to the whole group. A
// second SIGINT tells programs such as terraform to stop at once instead
// of cleaning up.
func reachedCommand(sig os.Signal) bool {
	return slices.Contains(keyboardSignals, sig) && inForegroundGroup()
}

// interrupted reports that sig stopped the command and returns 128+N.
func interrupted(stderr io.Writer, sig os.Signal) int {
	fmt.Fprintf(stderr, "stschain: interrupted by %v\n", sig)
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitError
}

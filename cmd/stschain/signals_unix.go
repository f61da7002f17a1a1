//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"os"
	"syscall"
)

// forwardedSignals end the credential phase, and are passed on to exec's
// command, once each, while it runs: every signal that another process (a
// supervisor, kill(1), a CI runner) sends to ask for something.
//
// Left alone, and why:
//   - SIGTSTP, SIGTTIN, SIGTTOU and SIGCONT keep their default action. Job
//     control addresses the whole process group, which the command shares:
//     Ctrl-Z stops both, and fg or bg continues both. A stschain that caught
//     SIGTSTP would keep running while its command stopped, and the shell,
//     waiting for stschain to stop, would hang.
//   - SIGWINCH goes from the terminal to its foreground group, the command
//     included; passed on, it would arrive twice.
//   - SIGCHLD, SIGPIPE, SIGURG (the Go runtime's preemption), SIGPROF,
//     SIGXCPU, SIGXFSZ, SIGIO and the fault signals (SIGSEGV, SIGBUS ...)
//     concern stschain's own process.
//   - SIGKILL and SIGSTOP cannot be caught. When stschain is killed, the
//     command gets SIGTERM on Linux (see childSysProcAttr).
var forwardedSignals = []os.Signal{
	syscall.SIGHUP,
	syscall.SIGINT,
	syscall.SIGQUIT,
	syscall.SIGTERM,
	syscall.SIGUSR1,
	syscall.SIGUSR2,
	syscall.SIGALRM,
}

// keyboardSignals are those a terminal sends to its whole foreground
// process group from the keyboard (VINTR, VQUIT); see reachedCommand.
var keyboardSignals = []os.Signal{syscall.SIGINT, syscall.SIGQUIT}

//go:build unix

package redistest

import "syscall"

// Pause stops the server with SIGSTOP: it keeps its port and the kernel
// still accepts connections and buffers requests, but nothing is answered
// until Resume, as with a server stalled by the network or by a long
// command. Kill and Close end a pause too.
func (s *Server) Pause() error { return s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume lets a paused server go on.
func (s *Server) Resume() error { return s.cmd.Process.Signal(syscall.SIGCONT) }

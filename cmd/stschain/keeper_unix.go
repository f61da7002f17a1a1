//go:build unix

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/stschain/stschain/credserver"
	"github.com/stschain/stschain/internal/safefile"
)

// The keeper looks for processes that may use the URI keeperPoll after
// the last look, twice as long after each look that found one, up to
// maxKeeperPoll (a job left behind may run for days); it exits after two
// looks in a row find none.
const (
	keeperPoll    = 500 * time.Millisecond
	maxKeeperPoll = 5 * time.Second
)

// tokenDigest is the SHA-256 of the server's token, in hex: what the
// keeper is told of it, to remove the token file only if it still holds
// the token, without knowing the token.
func tokenDigest(token []byte) string {
	sum := sha256.Sum256(token)
	return hex.EncodeToString(sum[:])
}

// keeper is the handle of a started port keeper.
type keeper struct {
	lifeline *os.File // the write end of the keeper's lifeline: closing it hands the port over
}

// startKeeper starts the keeper of srv's port (see keeper.go); tokenFile
// is the path of --server-token-file, "" for none. The keeper has its copy
// of the listening socket when startKeeper returns.
func startKeeper(srv *credserver.Server, tokenFile string) (*keeper, error) {
	args := []string{keeperArg, "-url", srv.URL(), "-pgid", strconv.Itoa(syscall.Getpgrp())}
	if tokenFile != "" {
		token, err := readSmallFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading the token file back: %w", err)
		}
		args = append(args, "-token-file", tokenFile, "-token-sha256", tokenDigest(token))
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program to keep the server's port: %w", err)
	}
	sock, err := srv.File()
	if err != nil {
		return nil, err
	}
	defer sock.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		w.Close()
		return nil, err
	}
	defer devNull.Close()
	// Raw descriptors and syscall.ForkExec, not os/exec: os/exec takes
	// a file's descriptor with File.Fd, which puts it in blocking mode,
	// and the copy of the socket shares that mode with the server's
	// listener, whose Accept would then block its thread, and Close wait
	// for it.
	var files []uintptr
	for _, f := range []*os.File{devNull, devNull, devNull, sock, r} { // descriptors 0 to 4
		fd, err := rawDescriptor(f)
		if err != nil {
			w.Close()
			return nil, err
		}
		files = append(files, fd)
	}
	pid, err := syscall.ForkExec(exe, append([]string{exe}, args...), &syscall.ProcAttr{
		Dir:   "/",
		Env:   []string{}, // nothing of stschain's environment, its secrets included
		Files: files,
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("starting the keeper of the server's port: %w", err)
	}
	if p, err := os.FindProcess(pid); err == nil {
		go func() { _, _ = p.Wait() }() // reaped if it ends while stschain runs
	}
	return &keeper{lifeline: w}, nil
}

// rawDescriptor returns f's descriptor without changing its mode.
func rawDescriptor(f *os.File) (uintptr, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var fd uintptr
	if err := rc.Control(func(d uintptr) { fd = d }); err != nil {
		return 0, err
	}
	return fd, nil
}

// release hands the port over to the keeper: stschain serves no more.
func (k *keeper) release() { _ = k.lifeline.Close() }

// maxTokenFile bounds what is read of a token file: a token is 43 bytes.
const maxTokenFile = 1 << 10

// readSmallFile reads a regular file at path of at most maxTokenFile
// bytes, without following a symbolic link or blocking on a FIFO.
func readSmallFile(path string) ([]byte, error) {
	return safefile.ReadFile(path, false, maxTokenFile)
}

// runKeeper is "stschain __keep-port": the keeper of a server's port,
// with the listening socket on descriptor 3 and its lifeline on 4. It
// returns its exit status, which nobody waits for.
func runKeeper(args []string) int {
	fs := flag.NewFlagSet(keeperArg, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	url := fs.String("url", "", "the server's URL")
	pgid := fs.Int("pgid", 0, "the process group of exec's command")
	tokenFile := fs.String("token-file", "", "the token file to remove")
	digest := fs.String("token-sha256", "", "the SHA-256 of the token the token file holds")
	if err := fs.Parse(args); err != nil || *url == "" {
		return exitUsage
	}
	sock, lifeline := os.NewFile(3, "listener"), os.NewFile(4, "lifeline")
	if sock == nil || lifeline == nil {
		return exitUsage
	}
	ln, err := net.FileListener(sock)
	sock.Close()
	if err != nil {
		return exitError
	}
	_, _ = io.Copy(io.Discard, lifeline) // until stschain has stopped serving, or exited
	lifeline.Close()
	if *tokenFile != "" {
		removeTokenFile(*tokenFile, *digest)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		waitForHolders(*url, *pgid)
	}()
	if err := credserver.ServeStopped(ctx, ln); err != nil {
		return exitError
	}
	return exitOK
}

// removeTokenFile removes the token file at path if it still holds the
// token whose SHA-256 is digest: stschain was killed before it could.
func removeTokenFile(path, digest string) {
	token, err := readSmallFile(path)
	if err == nil && tokenDigest(token) == digest {
		_ = os.Remove(path)
	}
}

// waitForHolders returns once two looks in a row have found no process
// that may use the server at url.
func waitForHolders(url string, pgid int) {
	pause := keeperPoll
	for clear := 0; clear < 2; {
		if holdersLeft(url, pgid) {
			clear = 0
			pause = min(2*pause, maxKeeperPoll)
		} else {
			clear++
		}
		if clear < 2 {
			time.Sleep(pause)
		}
	}
}

// holdsURI reports whether environ, a process's environment as
// /proc/PID/environ gives it (NUL-terminated entries), names the server at
// url.
func holdsURI(environ []byte, url string) bool {
	entry := []byte(credserver.FullURIEnv + "=" + url + "\x00")
	return bytes.HasPrefix(environ, entry) || bytes.Contains(environ, append([]byte{0}, entry...))
}

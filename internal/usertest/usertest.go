// Package usertest gives tests a second local user, for what another user
// of the machine could do to stschain's files.
package usertest

import (
	"errors"
	"os"
	"os/user"
	"strconv"
	"testing"
)

// Other returns a uid and gid that no account on this machine has, to
// stand for another local user: the kernel needs no account to own files or
// run processes, so the tests add none and leave nothing behind. Only root
// can make files and processes of another user, so Other skips t unless the
// tests run as root (as CI does).
func Other(t testing.TB) (uid, gid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs files and processes of a second local user, which only root can make; run the tests as root (CI does)")
	}
	for id := 61000; id < 62000; id++ {
		_, uerr := user.LookupId(strconv.Itoa(id))
		_, gerr := user.LookupGroupId(strconv.Itoa(id))
		if errors.As(uerr, new(user.UnknownUserIdError)) && errors.As(gerr, new(user.UnknownGroupIdError)) {
			return id, id
		}
	}
	t.Fatal("no uid and gid between 61000 and 61999 is free")
	return 0, 0
}

// PublicTempDir returns a new directory that every user may enter but only
// its owner write, removed when t ends: t.TempDir's parent lets no other
// user in.
func PublicTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "stschain-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

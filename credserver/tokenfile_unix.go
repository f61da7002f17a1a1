//go:build unix

package credserver

import "syscall"

// oNoFollow makes opening the token file fail on a symbolic link.
const oNoFollow = syscall.O_NOFOLLOW

// oNonBlock makes opening a FIFO that took the token file's name return
// at once.
const oNonBlock = syscall.O_NONBLOCK

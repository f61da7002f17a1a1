//go:build !unix

package credserver

// oNoFollow is zero where the system has no O_NOFOLLOW: O_EXCL already
// refuses an existing name, a link included.
const oNoFollow = 0

// oNonBlock is zero where opening never blocks on a FIFO.
const oNonBlock = 0

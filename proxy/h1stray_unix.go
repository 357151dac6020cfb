//go:build unix

package proxy

import "syscall"

// strayBytes reports whether the idle connection fd (non-blocking) is
// not to be used again: it holds bytes to read now, or the upstream
// closed or reset it (one read of at most a byte, which finds nothing to
// read, EAGAIN, on a connection that can be used).
func strayBytes(fd uintptr) bool {
	var b [1]byte
	_, err := syscall.Read(int(fd), b[:])
	return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR
}

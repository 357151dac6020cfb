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

// peerClosed reports whether the peer of the connection fd closed (its
// end of the stream is read: net/http's server takes that as a client
// gone too) or reset it, without waiting and without taking any byte
// (MSG_PEEK: bytes the peer sent are left for their reader).
func peerClosed(fd uintptr) bool {
	var b [1]byte
	n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	switch err {
	case nil:
		return n == 0
	case syscall.EAGAIN, syscall.EINTR:
		return false
	}
	return true
}

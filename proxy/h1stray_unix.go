//go:build unix

package proxy

import "syscall"

// strayBytes reports whether the connection fd (non-blocking) holds
// bytes to read now (one read of at most a byte: the connection is not
// used again when it does).
func strayBytes(fd uintptr) bool {
	var b [1]byte
	n, err := syscall.Read(int(fd), b[:])
	return err == nil && n > 0
}

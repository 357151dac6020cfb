//go:build !unix

package proxy

// strayBytes is unix's only: elsewhere an idle connection is not looked
// at before it is used again.
func strayBytes(uintptr) bool { return false }

// peerClosed is unix's only: elsewhere a lane client that goes away is
// found when its answer is written.
func peerClosed(uintptr) bool { return false }

//go:build !unix

package proxy

// strayBytes is unix's only: elsewhere an idle connection is not looked
// at before it is used again.
func strayBytes(uintptr) bool { return false }

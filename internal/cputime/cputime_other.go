//go:build !unix && !windows

package cputime

import (
	"errors"
	"time"
)

func process() (time.Duration, error) {
	return 0, errors.New("cputime: not supported on this system")
}

// Package quietport gives tests loopback ports that stay free while
// nothing listens on them: ports below the kernel's ephemeral range.
//
// A test that stops a server and starts it again on the same port must
// find the port free. A port of the ephemeral range (what a listen on
// port 0 gets) can meanwhile become the local end of any outgoing
// connection of a test running in parallel; a port below the range is
// taken only by whoever names it.
package quietport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Range is [lo, hi): the 16,384 ports below Linux's ephemeral range, or
// lo = 0 where that range cannot be read.
func Range() (lo, hi int) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0
	}
	first, err := strconv.Atoi(f[0])
	if err != nil || first <= 2048 {
		return 0, 0
	}
	return max(1024, first-16384), first
}

// Listen listens on a random free loopback port of Range, or on port 0
// where Range is unknown.
func Listen() (net.Listener, error) {
	lo, hi := Range()
	if lo == 0 {
		return net.Listen("tcp", "127.0.0.1:0")
	}
	var err error
	for range 64 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", lo+rand.IntN(hi-lo))); err == nil {
			return ln, nil
		}
	}
	return nil, fmt.Errorf("no free loopback port in [%d, %d) after 64 tries: %w", lo, hi, err)
}

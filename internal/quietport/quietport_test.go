package quietport_test

import (
	"net"
	"os"
	"testing"

	"github.com/gatehouse/gatehouse/internal/quietport"
)

// TestListenBelowEphemeral: on Linux the ports come from below the
// kernel's ephemeral range, and each is listened on.
func TestListenBelowEphemeral(t *testing.T) {
	if _, err := os.Stat("/proc/sys/net/ipv4/ip_local_port_range"); err != nil {
		t.Skip("no ephemeral range to read on this system:", err)
	}
	lo, hi := quietport.Range()
	if lo < 1024 || hi <= lo {
		t.Fatalf("range [%d, %d)", lo, hi)
	}
	for range 6 {
		ln, err := quietport.Listen()
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		p := ln.Addr().(*net.TCPAddr).Port
		if p < lo || p >= hi {
			t.Errorf("port %d outside [%d, %d)", p, lo, hi)
		}
		if _, err := net.Listen("tcp", ln.Addr().String()); err == nil {
			t.Errorf("port %d: a second listen succeeded", p)
		}
	}
}

package events

import "testing"

func TestServerAtLeast(t *testing.T) {
	for _, c := range []struct {
		have string
		want bool
	}{
		{"2.12.0", true}, {"2.12.1", true}, {"2.15.2", true}, {"v2.12.0", true}, {"3.0.0", true},
		{"2.12.0-beta.1", true}, {"2.11.9", false}, {"2.9.10", false}, {"1.99.99", false}, {"", false},
	} {
		if got := serverAtLeast(c.have, MinServerVersion); got != c.want {
			t.Errorf("serverAtLeast(%q, %q) = %v, want %v", c.have, MinServerVersion, got, c.want)
		}
	}
}

package webhooks

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzWebhookURL: the checks of a webhook URL (its form, then the SSRF
// guard on an address literal) never panic; what they accept is an
// absolute http(s) URL with a host, no credentials, no fragment and a
// valid port, that the delivery client can request; and an address
// literal (as the dialer maps it: DialHost) is accepted exactly when the
// guard allows the address. Host
// names are not resolved here (no DNS in a fuzz target).
func FuzzWebhookURL(f *testing.F) {
	for _, s := range []string{
		"https://93.184.215.14/hook", "http://93.184.215.14:8080/hooks/gatehouse?tenant=acme",
		"https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hook", "https://[::ffff:93.184.215.14]/hook",
		"https://", "ftp://example.com/hook", "http://:8080/hook", "https://user:pass@example.com/hook",
		"https://example.com/hook#frag", "https://93.184.215.14:0/hook", "https://93.184.215.14:65536/hook",
		"http://127.0.0.1/hook", "http://0.0.0.0/hook", "http://169.254.169.254/latest/meta-data/",
		"http://[::ffff:127.0.0.1]/hook", "http://[fe80::1%25eth0]/hook", "http://[64:ff9b::a9fe:a9fe]/hook",
		"http://[::]/hook", "http://127。0。0。1/hook", "http://１０.０.０.１:8080/", "http://0x7f.1/hook", "http://2130706433/hook", "HTTP://93.184.215.14/", "https://93.184.215.14:+443/",
	} {
		f.Add(s)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := parseURL(raw)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("%q: an empty error", raw)
			}
			return
		}
		if len(raw) > MaxURL || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil || strings.Contains(raw, "#") {
			t.Fatalf("%q accepted as %#v", raw, u)
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				t.Fatalf("%q accepted with port %q", raw, p)
			}
		}
		if _, err := http.NewRequestWithContext(ctx, http.MethodPost, raw, nil); err != nil {
			t.Fatalf("%q accepted, but the client cannot request it: %v", raw, err)
		}
		host, err := DialHost(u.Hostname())
		if err != nil {
			return
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			return
		}
		safe := guardian.SafeAddr(a.Unmap()) == nil
		if err := ValidateURL(ctx, raw, false); (err == nil) != safe {
			t.Fatalf("%q: ValidateURL = %v, the guard says safe = %v", raw, err, safe)
		}
		if err := ValidateURL(ctx, raw, true); err != nil {
			t.Fatalf("%q refused with private addresses allowed: %v", raw, err)
		}
	})
}

// FuzzParseSecret: a webhook secret is accepted only as whsec_ and
// standard base64 of a 24 to 64 byte key, which then signs.
func FuzzParseSecret(f *testing.F) {
	s, _ := NewSecret()
	for _, seed := range []string{s, "whsec_", "whsec_!!", SecretPrefix + strings.Repeat("A", 32), "nope"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := ParseSecret(s)
		if err != nil {
			return
		}
		if len(key) < minKey || len(key) > maxKey {
			t.Fatalf("%q: a key of %d bytes", s, len(key))
		}
		if Sign("id", time.Unix(1_800_000_000, 0), nil, key) == "" {
			t.Fatalf("%q: no signature", s)
		}
	})
}

package webhooks

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// TestValidateURLUnicodeHosts: a webhook URL's host is checked as the
// delivery's dialer connects to it (DialHost, net/http's IDNA mapping):
// an address written with ideographic full stops or fullwidth digits is
// that address, refused as private; an IDN is resolved by its punycode
// form, and refused or accepted by what that resolves to; a host with no
// ASCII form is refused as invalid, not as unresolvable.
func TestValidateURLUnicodeHosts(t *testing.T) {
	asked := map[string]int{}
	old := lookupNetIP
	t.Cleanup(func() { lookupNetIP = old })
	lookupNetIP = func(_ context.Context, _, host string) ([]netip.Addr, error) {
		asked[host]++
		switch host {
		case "xn--bcher-kva.example":
			return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
		case "xn--mnchen-3ya.example":
			return []netip.Addr{netip.MustParseAddr("10.1.2.3")}, nil
		}
		return nil, errors.New("no such host")
	}
	ctx := t.Context()
	for _, tc := range []struct{ url, want string }{
		{"http://127。0。0。1/hook", "must not point to 127.0.0.1, a loopback"},
		{"http://１２７.０.０.１:8080/hook", "must not point to 127.0.0.1, a loopback"},
		{"http://169｡254｡169｡254/latest/meta-data/", "must not point to 169.254.169.254"},
		{"https://münchen.example/hook", `host "münchen.example" resolves to 10.1.2.3, a loopback`},
		{"https://a\u200fb.example/hook", `must name a valid host: "a\u200fb.example" has no ASCII`},
		{"https://nowhere-ü.example/hook", `host "nowhere-ü.example" does not resolve`},
	} {
		if err := ValidateURL(ctx, tc.url, false); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ValidateURL(%q) = %v, want an error saying %q", tc.url, err, tc.want)
		}
	}
	if err := ValidateURL(ctx, "https://bücher.example/hook", false); err != nil {
		t.Errorf("an IDN resolving to a public address: %v", err)
	}
	if asked["xn--bcher-kva.example"] != 1 || asked["xn--mnchen-3ya.example"] != 1 || asked["bücher.example"]+asked["münchen.example"] != 0 {
		t.Errorf("names looked up %v, want the IDNs' punycode forms once each", asked)
	}
	// With private addresses allowed, the mapped address is accepted as
	// net/http requests it: a request to it reaches the local server.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	raw := "http://127。0。0。1:" + u.Port() + "/hook"
	if err := ValidateURL(ctx, raw, true); err != nil {
		t.Errorf("ValidateURL(%q) with private addresses allowed: %v", raw, err)
	}
	res, err := NewClient(ClientConfig{AllowPrivate: true}).Post(raw, "application/json", nil)
	if err != nil {
		t.Fatalf("the delivery client's request to %s: %v", raw, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Errorf("the delivery client's request to %s: %d", raw, res.StatusCode)
	}
	// The guarded client refuses it at connection, as ValidateURL does.
	if _, err := NewClient(ClientConfig{}).Post(raw, "application/json", nil); err == nil {
		t.Errorf("the guarded client reached %s", raw)
	}
}

package proxy

import (
	"net/http/httptest"
	"net/url"
	"testing"
)

// TestR1TargetURL: a proxied path is joined under the credential's
// base_url and never climbs out of it (dot segments, escaped or with
// ";" parameters, escaped slashes and backslashes are refused), and
// never changes the target's host.
func TestR1TargetURL(t *testing.T) {
	for p, want := range map[string]string{
		"/v1/proxy/c/a/..%5c..%5cadmin":  "",
		"/v1/proxy/c/..;/admin":          "",
		"/v1/proxy/c/%2e%2e%3b/admin":    "",
		"/v1/proxy/c/%2F%2Fevil.example": "",
		"/v1/proxy/c/.%2e/x":             "",
		"/v1/proxy/c/a/%252e%252e/x":     "https://api.example.com/base/a/%252e%252e/x",
		"/v1/proxy/c//evil.example/x":    "https://api.example.com/base//evil.example/x",
		"/v1/proxy/c/a?x=1#f":            "https://api.example.com/base/a?x=1#f", // the query as sent (a request target has no fragment)
		"/v1/proxy/c/@evil.example":      "https://api.example.com/base/@evil.example",
		"/v1/proxy/c":                    "https://api.example.com/base/",
		"/v1/proxy/c/":                   "https://api.example.com/base/",
	} {
		req := httptest.NewRequest("GET", "http://gh"+p, nil)
		u, err := targetURL("https://api.example.com/base", req.URL.EscapedPath(), req.URL.RawQuery)
		switch {
		case want == "" && err == nil:
			t.Errorf("%s: %s, want refused", p, u)
		case want != "" && err != nil:
			t.Errorf("%s: %v, want %s", p, err, want)
		case want != "" && (u.String() != want || u.Host != "api.example.com"):
			t.Errorf("%s: %s (host %s), want %s", p, u, u.Host, want)
		}
	}
}

// TestDialAddr: the address h1Transport dials is net/http transport's
// (an IDN's ASCII form, the port defaulted), the raw way's too.
func TestDialAddr(t *testing.T) {
	for raw, want := range map[string]string{
		"http://bücher.example/api":   "xn--bcher-kva.example:80",
		"http://bücher.example:8080/": "xn--bcher-kva.example:8080",
		"http://Api.Example.COM/":     "Api.Example.COM:80",
		"http://127.0.0.1:9000":       "127.0.0.1:9000",
		"http://[::1]/x":              "[::1]:80",
		"http://[fe80::1%25eth0]:81/": "[fe80::1%eth0]:81",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := dialAddr(u); got != want {
			t.Errorf("dialAddr(%s) = %s, want %s", raw, got, want)
		}
		b, _, err := targetOf(raw, "/v1/proxy/c/x")
		if err != nil {
			t.Fatal(err)
		}
		if b.addr != want {
			t.Errorf("targetOf(%s).addr = %s, want %s", raw, b.addr, want)
		}
	}
}

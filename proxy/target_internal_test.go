package proxy

import (
	"net/http/httptest"
	"testing"
)

func TestR1TargetURL(t *testing.T) {
	for _, p := range []string{
		"/v1/proxy/c/a/..%5c..%5cadmin", "/v1/proxy/c/..;/admin", "/v1/proxy/c/%2e%2e%3b/admin", "/v1/proxy/c/a/%252e%252e/x",
		"/v1/proxy/c//evil.example/x", "/v1/proxy/c/%2F%2Fevil.example", "/v1/proxy/c/a?x=1#f", "/v1/proxy/c/@evil.example",
		"/v1/proxy/c", "/v1/proxy/c/", "/v1/proxy/c/.%2e/x",
	} {
		req := httptest.NewRequest("GET", "http://gh"+p, nil)
		u, err := targetURL("https://api.example.com/base", req.URL.EscapedPath(), req.URL.RawQuery)
		if err != nil {
			t.Logf("%-40s -> err %v", p, err)
			continue
		}
		t.Logf("%-40s -> %s (host %s path %q)", p, u.String(), u.Host, u.Path)
	}
}

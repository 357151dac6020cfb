package server_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestHTTPHeadOfPublicDocuments: HEAD of the discovery documents, the
// JWKS and /healthz is GET without the body (RFC 9110 §9.3.2), with
// GET's status and caching headers; another method is still 405.
func TestHTTPHeadOfPublicDocuments(t *testing.T) {
	s := servertest.New(t)
	do := func(method, path string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, s.URL+path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/.well-known/jwks.json", "/healthz"} {
		get, _ := do(http.MethodGet, path)
		head, body := do(http.MethodHead, path)
		if head.StatusCode != http.StatusOK || len(body) != 0 || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") ||
			head.Header.Get("Cache-Control") != get.Header.Get("Cache-Control") || head.Header.Get("ETag") != get.Header.Get("ETag") {
			t.Errorf("HEAD %s: %d %v (%d bytes); GET: %d %v", path, head.StatusCode, head.Header, len(body), get.StatusCode, get.Header)
		}
	}
	if res, _ := do(http.MethodPut, "/.well-known/jwks.json"); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT of the JWKS: %d, want 405", res.StatusCode)
	}
}

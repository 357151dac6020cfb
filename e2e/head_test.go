package e2e

import (
	"net/http"
	"testing"
)

// TestHeadOfPublicDocuments: the discovery documents, the JWKS and
// /healthz answer HEAD as GET without the body (RFC 9110 §9.3.2: a
// server MUST support HEAD), their caching headers included; a HEAD with
// the JWKS's ETag is 304. They answered 405.
func TestHeadOfPublicDocuments(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s).as("")
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/.well-known/jwks.json", "/healthz"} {
		get, head := a.call(http.MethodGet, path, nil), a.call(http.MethodHead, path, nil)
		if get.Status != http.StatusOK || head.Status != http.StatusOK || len(head.Body) != 0 {
			t.Errorf("HEAD %s: %d with %d bytes (GET %d), want 200 and no body", path, head.Status, len(head.Body), get.Status)
			continue
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "ETag"} {
			if head.Header.Get(h) != get.Header.Get(h) {
				t.Errorf("HEAD %s: %s %q, GET's %q", path, h, head.Header.Get(h), get.Header.Get(h))
			}
		}
	}
	tag := a.call(http.MethodGet, "/.well-known/jwks.json", nil).Header.Get("ETag")
	if r := a.call(http.MethodHead, "/.well-known/jwks.json", nil, "If-None-Match", tag); tag == "" || r.Status != http.StatusNotModified {
		t.Errorf("HEAD of the JWKS with its ETag %q: %d, want 304", tag, r.Status)
	}
}

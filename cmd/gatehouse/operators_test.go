package main

import (
	"encoding/json"
	"testing"
)

// An unset issuer follows the address the server listens on (API.md
// "Operations"), here a port picked at start, and the default address is
// loopback.
func TestServeIssuerFollowsListenAddress(t *testing.T) {
	if def := defaultConfig(); def.Addr != "127.0.0.1:8080" || def.Issuer != "" {
		t.Fatalf("defaults: addr %q issuer %q, want 127.0.0.1:8080 and empty", def.Addr, def.Issuer)
	}
	r := startServe(t, "--data-dir", t.TempDir())
	code, body, _ := get(t, r.url+"/.well-known/oauth-authorization-server")
	if code != 200 {
		t.Fatalf("discovery = %d %s", code, body)
	}
	var doc struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != r.url || doc.TokenEndpoint != r.url+"/v1/oauth/token" {
		t.Fatalf("issuer %q token endpoint %q, want the listen URL %q", doc.Issuer, doc.TokenEndpoint, r.url)
	}
}

package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestCredentialsSeal: `gatehouse credentials seal` fetches the tenant's
// vault key and seals the secret read on stdin to it; the server opens
// the value (a create with it is 201) and refuses one altered (400).
// Without an issuer or token, or with an empty secret, it is a usage
// error.
func TestCredentialsSeal(t *testing.T) {
	s := servertest.New(t)
	token := s.Token()
	credentialsStdin = strings.NewReader("upstream-client-secret-0123\n")
	t.Cleanup(func() { credentialsStdin = nil })
	out, _, err := runOut(t, "credentials", "seal", "--issuer", s.URL, "--token", token)
	if err != nil {
		t.Fatal(err)
	}
	sealed := strings.TrimSpace(out)
	if sealed == "" || strings.Contains(sealed, "upstream-client-secret") {
		t.Fatalf("sealed %q", out)
	}
	create := func(enc string) int {
		return s.Do(http.MethodPost, "/v1/credentials", token, map[string]any{"name": "sealed " + enc[:8], "provider": "custom",
			"grant_type": "implicit", "client_id": "cid", "auth_url": "http://127.0.0.1:9/authorize", "encrypted_client_secret": enc}).Status
	}
	if st := create(sealed); st != http.StatusCreated {
		t.Fatalf("create with the sealed secret: %d", st)
	}
	if st := create("AAAA" + sealed[4:]); st != http.StatusBadRequest {
		t.Fatalf("create with an altered value: %d", st)
	}
	credentialsStdin = strings.NewReader("\n")
	if _, _, err := runOut(t, "credentials", "seal", "--issuer", s.URL, "--token", token); err == nil {
		t.Fatal("an empty secret was sealed")
	}
	if _, _, err := runOut(t, "credentials", "seal", "--issuer", s.URL); err == nil {
		t.Fatal("sealed without a token")
	}
}

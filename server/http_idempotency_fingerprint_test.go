package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestHTTPIdempotencyFingerprintKeyed: the record of an Idempotency-Key
// in the log holds no plain hash of the body, which may hold a password
// (here a new user's): a SHA-256 of a body whose other members are in the
// user.created event lets whoever reads the log guess the password at
// hash speed, past argon2id. A repeat still replays; another body is 422.
func TestHTTPIdempotencyFingerprintKeyed(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	body := map[string]any{"email": "ada@example.com", "name": "Ada", "password": "violet-harbour-lantern-42"}
	first := want(t, s.Do(http.MethodPost, "/v1/platform/users", admin, body, "Idempotency-Key", "user-ada"), http.StatusCreated)
	raw, err := json.Marshal(body) // the bytes s.Do sent
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	plain := base64.StdEncoding.EncodeToString(sum[:])

	// The record as the projections keep it (the event's fingerprint).
	// Idempotency records are never listed (projections.Listed): the
	// test server's memory store gives all its documents.
	all, ok := s.Server.Store().(interface{ Docs() []projections.Doc })
	if !ok {
		t.Fatalf("the test server's store %T does not give its documents", s.Server.Store())
	}
	var docs []projections.Doc
	for _, d := range all.Docs() {
		if d.Kind == projections.KindIdempotency {
			docs = append(docs, d)
		}
	}
	if len(docs) != 1 {
		t.Fatalf("%d idempotency records", len(docs))
	}
	var rec struct {
		Fingerprint string `json:"fingerprint"`
	}
	if err := json.Unmarshal(docs[0].Body, &rec); err != nil || rec.Fingerprint == "" {
		t.Fatalf("record %s: %v", docs[0].Body, err)
	}
	if strings.Contains(rec.Fingerprint, plain) {
		t.Fatalf("the record holds the plain SHA-256 of a body with a password: %q", rec.Fingerprint)
	}

	again := want(t, s.Do(http.MethodPost, "/v1/platform/users", admin, body, "Idempotency-Key", "user-ada"), http.StatusCreated)
	if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
		t.Fatalf("the repeat was not replayed: %s", again.Body)
	}
	body["password"] = "violet-harbour-lantern-43"
	wantProblem(t, s.Do(http.MethodPost, "/v1/platform/users", admin, body, "Idempotency-Key", "user-ada"), http.StatusUnprocessableEntity, "idempotency_key_reused")
}

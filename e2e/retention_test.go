package e2e

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestIdempotencyRetention: an Idempotency-Key's record is kept for the
// configured retention, then dropped by the log's clock (moved by
// clock.ticked on an idle server): the key then runs a new request
// instead of answering 422; after a restart, which rebuilds the
// projections from the log, the rebuilt record obeys the same rule.
func TestIdempotencyRetention(t *testing.T) {
	s := startServer(t, withEnv("IDEMPOTENCY_RETENTION", "2s"))
	a := adminAPI(t, s)
	key := "e2e-" + rand.Text()
	body := map[string]any{"name": uniqueName(t, "first")}
	first := a.call(http.MethodPost, "/v1/platform/apps", body, "Idempotency-Key", key)
	if first.Status != http.StatusCreated {
		t.Fatalf("create = %s", first)
	}
	if again := a.call(http.MethodPost, "/v1/platform/apps", body, "Idempotency-Key", key); again.Status != http.StatusCreated ||
		again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("a repeat within the retention answered %s, want the replay", again)
	}
	reclaim(t, a, key)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s.restart(t)
	reclaim(t, adminAPI(t, s), key)
}

// reclaim waits until key, used with a new body, runs a new create
// instead of answering 422 (its record was dropped), within a deadline
// far above the retention and the clock ticker's period.
func reclaim(t *testing.T, a *api, key string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		r := a.call(http.MethodPost, "/v1/platform/apps", map[string]any{"name": uniqueName(t, "again")}, "Idempotency-Key", key)
		switch {
		case r.Status == http.StatusCreated && r.Header.Get("Idempotent-Replayed") == "":
			return
		case r.Status != http.StatusUnprocessableEntity:
			t.Fatalf("a key past its retention answered %s", r)
		case time.Now().After(deadline):
			t.Fatal("the idempotency record was never dropped")
		}
		time.Sleep(time.Second) // polling a condition, with a deadline
	}
}

// TestRevocationRecordsItsGrace: a revocation records the server's
// GATEHOUSE_REVOCATION_GRACE in its event (grace_seconds), so retention
// and a rebuild read the grace from the log, not from the settings of
// whichever instance applies it.
func TestRevocationRecordsItsGrace(t *testing.T) {
	s := startServer(t, withEnv("REVOCATION_GRACE", "7s"))
	a := adminAPI(t, s)
	tok := a.mint(adminCreds())
	if r := a.form("/v1/oauth/revoke", url.Values{"token": {tok.AccessToken}}, adminID, adminSecret); r.Status != http.StatusOK {
		t.Fatalf("revoke = %s", r)
	}
	items, _ := a.feedPages("events", "token.revoked", 500)
	if len(items) != 1 {
		t.Fatalf("the feed holds %d token.revoked events, want 1", len(items))
	}
	var data struct {
		GraceSeconds int64 `json:"grace_seconds"`
	}
	if err := json.Unmarshal(items[0].Data, &data); err != nil || data.GraceSeconds != 7 {
		t.Fatalf("token.revoked data %s: grace_seconds %d, want 7 (%v)", items[0].Data, data.GraceSeconds, err)
	}
}

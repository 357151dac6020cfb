package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestHTTPIdempotencyContentionNotRecorded: a POST under an
// Idempotency-Key that loses the race for its aggregate on every try
// (409 conflict from the command path) asks the client to retry; its
// answer is not the request's outcome, so it is not recorded and
// replayed: the same key and body sent again runs the request, and that
// answer (201) is the one replayed after. Contention comes from many
// concurrent secret rotations of one app, each with its own key, sent
// in bursts until one loses every try (deadline 60 s). A 409 that is the
// request's outcome (a duplicate name) is still replayed.
func TestHTTPIdempotencyContentionNotRecorded(t *testing.T) {
	s := servertest.New(t, servertest.Env("RATE_LIMIT", "false")) // bursts of one client
	admin := s.Token()
	var a app
	want(t, s.Do(http.MethodPost, "/v1/platform/apps", admin, map[string]any{"name": "contended"}), http.StatusCreated).JSON(t, &a)
	path := "/v1/platform/apps/" + a.ID + "/secrets"
	body := map[string]any{"grace_period_seconds": 0}

	lost := ""
	deadline := time.Now().Add(60 * time.Second)
	for burst := 0; lost == ""; burst++ {
		if time.Now().After(deadline) {
			t.Fatalf("no rotation lost every try in %d bursts", burst)
		}
		lost = rotateBurst(t, s, admin, path, fmt.Sprintf("b%d-", burst), 24)
	}

	again := s.Do(http.MethodPost, path, admin, body, "Idempotency-Key", lost)
	if again.Status != http.StatusCreated {
		t.Fatalf("the retry of a contended key: %d (Idempotent-Replayed %q), want 201: %s",
			again.Status, again.Header.Get("Idempotent-Replayed"), again.Body)
	}
	if again.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("the retry that ran says it is replayed")
	}
	replay := want(t, s.Do(http.MethodPost, path, admin, body, "Idempotency-Key", lost), http.StatusCreated)
	if replay.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(replay.Body, again.Body) {
		t.Fatalf("the answer that ran is not replayed: Idempotent-Replayed %q, %s", replay.Header.Get("Idempotent-Replayed"), replay.Body)
	}

	// A 409 that is the request's own outcome (the name is taken) is
	// recorded and replayed as before.
	dup := map[string]any{"name": "contended"}
	wantProblem(t, s.Do(http.MethodPost, "/v1/platform/apps", admin, dup, "Idempotency-Key", "dup"), http.StatusConflict, "conflict")
	if r := s.Do(http.MethodPost, "/v1/platform/apps", admin, dup, "Idempotency-Key", "dup"); r.Status != http.StatusConflict || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("a duplicate name's 409 repeated: %d, Idempotent-Replayed %q", r.Status, r.Header.Get("Idempotent-Replayed"))
	}
}

// rotateBurst sends n concurrent rotations of the secret at path, with
// keys prefix+i, and returns the key of one answered 409 conflict
// ("" if none was). Any answer but 201 or that 409 fails the test.
func rotateBurst(t *testing.T, s *servertest.Server, token, path, prefix string, n int) string {
	t.Helper()
	type answer struct {
		key    string
		status int
		body   []byte
		err    error
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("%s%d", prefix, i)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+path, bytes.NewReader([]byte(`{"grace_period_seconds":0}`)))
			if err != nil {
				answers[i] = answer{key: key, err: err}
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Idempotency-Key", key)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				answers[i] = answer{key: key, err: err}
				return
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			answers[i] = answer{key, res.StatusCode, b, err}
		})
	}
	wg.Wait()
	lost := ""
	for _, a := range answers {
		switch {
		case a.err != nil:
			t.Fatalf("rotation %s: %v", a.key, a.err)
		case a.status == http.StatusConflict:
			lost = a.key
		case a.status != http.StatusCreated:
			t.Fatalf("rotation %s: %d: %s", a.key, a.status, a.body)
		}
	}
	return lost
}

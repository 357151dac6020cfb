package server_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestHTTPIdempotency: a POST repeated with the same Idempotency-Key and
// body answers the first status and body with Idempotent-Replayed and
// has no second effect; the key with another body is 422
// idempotency_key_reused; a key over 255 characters is 400.
func TestHTTPIdempotency(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	body := map[string]any{"name": "once", "metadata": map[string]any{"n": 1}}
	first := want(t, s.Do(http.MethodPost, "/v1/platform/apps", admin, body, "Idempotency-Key", "k-1"), http.StatusCreated)
	if first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("the first answer says it is replayed")
	}
	again := want(t, s.Do(http.MethodPost, "/v1/platform/apps", admin, body, "Idempotency-Key", "k-1"), http.StatusCreated)
	if again.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.Body, first.Body) {
		t.Fatalf("replay: Idempotent-Replayed %q, same body %v", again.Header.Get("Idempotent-Replayed"), bytes.Equal(again.Body, first.Body))
	}
	var a app
	first.JSON(t, &a)
	if a.ClientSecret == "" {
		t.Fatal("the first answer has no client_secret")
	}
	var list struct {
		Items []app `json:"items"`
	}
	want(t, s.Do(http.MethodGet, "/v1/platform/apps", admin, nil), http.StatusOK).JSON(t, &list)
	n := 0
	for _, x := range list.Items {
		if x.Name == "once" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d apps named once after a replay, want 1", n)
	}

	wantProblem(t, s.Do(http.MethodPost, "/v1/platform/apps", admin, map[string]any{"name": "other"}, "Idempotency-Key", "k-1"),
		http.StatusUnprocessableEntity, "idempotency_key_reused")
	// Another key is another request: the name is taken now.
	wantProblem(t, s.Do(http.MethodPost, "/v1/platform/apps", admin, body, "Idempotency-Key", "k-2"), http.StatusConflict, "conflict")
	long := make([]byte, 256)
	for i := range long {
		long[i] = 'k'
	}
	wantProblem(t, s.Do(http.MethodPost, "/v1/platform/apps", admin, map[string]any{"name": "long"}, "Idempotency-Key", string(long)), http.StatusBadRequest, "validation_error")
}

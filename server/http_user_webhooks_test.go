package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestHTTPUserWebhooks: the user.* built-in event types are in the
// catalog under platform:users:read, and a subscriber receives each
// change of a user, signed, with the user's id and never the password
// hash; an app without platform:users:read cannot subscribe.
func TestHTTPUserWebhooks(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	types := []string{"user.created", "user.updated", "user.disabled", "user.enabled", "user.deleted"}

	var cat struct {
		Items []struct {
			Name    string `json:"name"`
			Scope   string `json:"scope"`
			BuiltIn bool   `json:"built_in"`
		} `json:"items"`
	}
	want(t, s.Do(http.MethodGet, "/v1/platform/event-types?limit=500", admin, nil), http.StatusOK).JSON(t, &cat)
	for _, typ := range types {
		i := slices.IndexFunc(cat.Items, func(e struct {
			Name    string `json:"name"`
			Scope   string `json:"scope"`
			BuiltIn bool   `json:"built_in"`
		}) bool {
			return e.Name == typ
		})
		if i < 0 || cat.Items[i].Scope != "platform:users:read" || !cat.Items[i].BuiltIn {
			t.Fatalf("event type %s not built in under platform:users:read: %+v", typ, cat.Items)
		}
	}

	// Without platform:users:read: refused.
	plain := createApp(t, s, admin, map[string]any{"name": "plain", "requested_scopes": []string{"webhooks:write"}})
	decide(t, s, admin, plain.ID, "webhooks:write", "approve")
	rcv := newReceiver(t, http.StatusNoContent)
	r := s.Do(http.MethodPost, "/v1/webhooks", s.TokenFor(plain.ClientID, plain.ClientSecret), map[string]any{"url": rcv.srv.URL, "events": []string{"user.created"}})
	if r.Status != http.StatusBadRequest && r.Status != http.StatusForbidden {
		t.Fatalf("a subscription to user.created without platform:users:read: %d %s", r.Status, r.Body)
	}

	var w webhook
	want(t, s.Do(http.MethodPost, "/v1/webhooks", admin, map[string]any{"url": rcv.srv.URL, "events": types}), http.StatusCreated).JSON(t, &w)

	var u user
	want(t, s.Do(http.MethodPost, "/v1/platform/users", admin, map[string]any{"email": "ada@example.com", "name": "Ada", "password": "correct-horse-battery-staple-9!"}), http.StatusCreated).JSON(t, &u)
	want(t, s.Do(http.MethodPatch, "/v1/platform/users/"+u.ID, admin, map[string]any{"name": "Ada L.", "roles": []string{"admin"}}), http.StatusOK)
	want(t, s.Do(http.MethodPatch, "/v1/platform/users/"+u.ID, admin, map[string]any{"password": "another-long-passphrase-42?"}), http.StatusOK)
	want(t, s.Do(http.MethodPatch, "/v1/platform/users/"+u.ID, admin, map[string]any{"disabled": true}), http.StatusOK)
	want(t, s.Do(http.MethodPatch, "/v1/platform/users/"+u.ID, admin, map[string]any{"disabled": false}), http.StatusOK)
	want(t, s.Do(http.MethodDelete, "/v1/platform/users/"+u.ID, admin, nil), http.StatusNoContent)

	deadline := time.Now().Add(15 * time.Second)
	for len(rcv.requests()) < len(types) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // poll the receiver
	}
	reqs := rcv.requests()
	wh, err := standardwebhooks.NewWebhook(w.Secret)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, req := range reqs {
		if err := wh.Verify(req.body, req.header); err != nil {
			t.Fatalf("a delivery does not verify: %v", err)
		}
		var p struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(req.body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Data["user_id"] != u.ID {
			t.Errorf("%s without the user's id: %s", p.Type, req.body)
		}
		if bytes.Contains(req.body, []byte("argon2")) || bytes.Contains(req.body, []byte(`"v1:`)) {
			t.Errorf("%s leaks the password hash: %s", p.Type, req.body)
		}
		if p.Type == "user.created" && (p.Data["email"] != "ada@example.com" || p.Data["name"] != "Ada") {
			t.Errorf("user.created data: %s", req.body)
		}
		got = append(got, p.Type)
	}
	slices.Sort(got)
	wantTypes := slices.Sorted(slices.Values(types))
	if !slices.Equal(got, wantTypes) {
		t.Fatalf("deliveries %v, want %v (user.password_changed is not one)", got, wantTypes)
	}
}

package e2e

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestSecretRotationRules: what TestSecretRotation leaves out: a repeated
// rotation with one Idempotency-Key gives the same secret once, If-Match
// is honoured by both secret routes, unknown fields are refused, and the
// app lists its secrets as id, created_at and expires_at only.
func TestSecretRotationRules(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	app := a.createApp(map[string]any{"name": uniqueName(t, "app")})
	base := "/v1/platform/apps/" + app.ID + "/secrets"

	wantProblem(t, a.call(http.MethodPost, base, map[string]any{"grace_period_seconds": 60, "secret": "mine"}), http.StatusBadRequest, "validation_error")
	wantProblem(t, a.call(http.MethodPost, base, map[string]any{"grace_period_seconds": -1}), http.StatusBadRequest, "validation_error")
	wantProblem(t, a.call(http.MethodPost, base, map[string]any{}, "If-Match", `"99"`), http.StatusPreconditionFailed, "precondition_failed")
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps/app_missing/secrets", map[string]any{}), http.StatusNotFound, "not_found")

	// One Idempotency-Key, one rotation: the replay is the same answer.
	key := "e2e-" + rand.Text()
	first := a.call(http.MethodPost, base, map[string]any{"grace_period_seconds": 3600}, "Idempotency-Key", key, "If-Match", `"1"`)
	if first.Status != http.StatusCreated {
		t.Fatalf("rotate: %s", first)
	}
	again := a.call(http.MethodPost, base, map[string]any{"grace_period_seconds": 3600}, "Idempotency-Key", key)
	if again.Status != http.StatusCreated || string(again.Body) != string(first.Body) {
		t.Fatalf("replayed rotation = %s, want the first answer %s", again, first)
	}
	var rot struct {
		ID           string `json:"id"`
		ClientSecret string `json:"client_secret"`
	}
	first.decode(t, &rot)
	a.mint(credentials{app.ClientID, rot.ClientSecret, appCreds(app).style})
	a.mint(appCreds(app)) // within the grace period

	// The list: two secrets (not three), keys id, created_at, expires_at.
	r := a.call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil)
	etag := r.Header.Get("ETag")
	var raw struct {
		Secrets []map[string]json.RawMessage `json:"secrets"`
	}
	r.decode(t, &raw)
	if len(raw.Secrets) != 2 {
		t.Fatalf("the app lists %d secrets after one rotation replayed, want 2: %s", len(raw.Secrets), r)
	}
	for _, sec := range raw.Secrets {
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range sec {
				if !yield(k) {
					return
				}
			}
		})
		if !slices.Equal(keys, []string{"created_at", "expires_at", "id"}) {
			t.Errorf("a listed secret has keys %v, want created_at, expires_at, id", keys)
		}
	}
	if strings.Contains(string(r.Body), rot.ClientSecret) || strings.Contains(string(r.Body), app.ClientSecret) {
		t.Error("GET app shows a secret")
	}

	// DELETE honours If-Match; the old secret stops at once.
	var oldID string
	for _, sec := range raw.Secrets {
		var id string
		_ = json.Unmarshal(sec["id"], &id)
		if id != rot.ID {
			oldID = id
		}
	}
	wantProblem(t, a.call(http.MethodDelete, base+"/"+oldID, nil, "If-Match", `"1"`), http.StatusPreconditionFailed, "precondition_failed")
	a.mint(appCreds(app))
	if r := a.call(http.MethodDelete, base+"/"+oldID, nil, "If-Match", etag); r.Status != http.StatusNoContent {
		t.Fatalf("revoke with the current If-Match: %s", r)
	}
	_, err := a.tryMint(appCreds(app))
	wantTokenError(t, err, http.StatusUnauthorized, "invalid_client")
	// Revoking it again: it is no longer live.
	wantProblem(t, a.call(http.MethodDelete, base+"/"+oldID, nil), http.StatusNotFound, "not_found")
}

// TestServiceTokenRules: what TestServiceTokens leaves out: no scope named
// means every approved one, introspection by the app itself, scopes named
// in the refusal, an app with nothing approved, and revocations keyed by
// app: naming another app's jti revokes nothing of it.
func TestServiceTokenRules(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	app := a.createApp(map[string]any{"name": uniqueName(t, "app"), "requested_scopes": []string{"webhooks:read", "platform:apps:read", "events:publish"}})
	a.decide(app.ID, "webhooks:read", "approve", "")
	a.decide(app.ID, "platform:apps:read", "approve", "")
	base := "/v1/platform/apps/" + app.ID + "/tokens"

	// Every approved scope (events:publish is only requested), the app's TTL.
	r := a.call(http.MethodPost, base, map[string]any{})
	if r.Status != http.StatusCreated || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("service token: %s (Cache-Control %q)", r, r.Header.Get("Cache-Control"))
	}
	var st serviceTokenView
	r.decode(t, &st)
	if st.Scope != "platform:apps:read webhooks:read" || st.ExpiresIn != app.AccessTokenTTLSeconds || st.JTI == "" {
		t.Errorf("service token = %+v, want both approved scopes and the app's TTL %d", st, app.AccessTokenTTLSeconds)
	}
	in := a.introspect(appCreds(app), st.AccessToken)
	if in["active"] != true || in["client_id"] != app.ClientID || in["sub"] != app.ClientID || in["scope"] != st.Scope || in["jti"] != st.JTI {
		t.Errorf("the app introspecting its service token = %v", in)
	}
	// A repeated scope counts once.
	r = a.call(http.MethodPost, base, map[string]any{"scopes": []string{"webhooks:read", "webhooks:read"}, "ttl_seconds": 60})
	var one serviceTokenView
	if r.Status == http.StatusCreated {
		r.decode(t, &one)
	}
	if one.Scope != "webhooks:read" || one.ExpiresIn != 60 {
		t.Errorf("service token of a repeated scope = %s", r)
	}
	// The refusal names the scopes that are not approved.
	p := wantProblem(t, a.call(http.MethodPost, base, map[string]any{"scopes": []string{"webhooks:read", "events:publish", "nope:thing"}}), http.StatusBadRequest, "validation_error")
	if len(p.Errors) == 0 || !strings.Contains(p.Errors[0].Message, "events:publish") || !strings.Contains(p.Errors[0].Message, "nope:thing") || strings.Contains(p.Errors[0].Message, "webhooks:read") {
		t.Errorf("refusal = %+v, want events:publish and nope:thing named, not webhooks:read", p)
	}
	wantProblem(t, a.call(http.MethodPost, base, map[string]any{"ttl": 60}), http.StatusBadRequest, "validation_error")
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps/app_missing/tokens", map[string]any{}), http.StatusNotFound, "not_found")

	// An app with no approved scope gets no token.
	bare := a.createApp(map[string]any{"name": uniqueName(t, "bare"), "requested_scopes": []string{"webhooks:read"}})
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps/"+bare.ID+"/tokens", map[string]any{}), http.StatusBadRequest, "validation_error")

	// Revocations are keyed by app: the DELETE on bare naming app's jti
	// answers 204 and revokes nothing of app.
	if r := a.call(http.MethodDelete, "/v1/platform/apps/"+bare.ID+"/tokens/"+st.JTI, nil); r.Status != http.StatusNoContent {
		t.Fatalf("revoke an unknown jti of bare: %s", r)
	}
	if !a.active(st.AccessToken) {
		t.Fatal("a revocation recorded for another app killed the token")
	}
	if r := a.as(st.AccessToken).call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil); r.Status != http.StatusOK {
		t.Fatalf("the service token after another app's revocation: %s", r)
	}
	wantProblem(t, a.call(http.MethodDelete, "/v1/platform/apps/app_missing/tokens/"+st.JTI, nil), http.StatusNotFound, "not_found")
	// The app's own DELETE kills it; a second DELETE is still 204.
	for range 2 {
		if r := a.call(http.MethodDelete, base+"/"+url.PathEscape(st.JTI), nil); r.Status != http.StatusNoContent {
			t.Fatalf("revoke: %s", r)
		}
	}
	if in := a.introspect(appCreds(app), st.AccessToken); in["active"] != false || len(in) != 1 {
		t.Errorf("the app introspecting its revoked service token = %v, want only active false", in)
	}
	if !a.active(one.AccessToken) {
		t.Error("revoking one service token killed another")
	}
}

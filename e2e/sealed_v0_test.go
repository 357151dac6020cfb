package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The sealed-v0 fixture (testdata/sealed-v0) is a data directory written
// by the release before the sealing package (commit sealedV0Manifest.Commit,
// where jwks private keys and webhook secrets were sealed with the raw
// master key and idempotency answers under a key of their own), with one
// of everything it sealed. TestSealedV0Opens serves a copy of it with this
// build. testdata/sealed-v0/README.md says how to write it again.
const sealedV0Dir = "testdata/sealed-v0"

// sealedV0Manifest is what the fixture's writer knew: the master key, the
// credentials and the answers to compare with.
type sealedV0Manifest struct {
	Commit    string    `json:"commit"`
	Generated time.Time `json:"generated"`
	MasterKey string    `json:"master_key"` // base64, GATEHOUSE_MASTER_KEY
	// Kids are the signing keys of the JWKS when the writer stopped;
	// SigningKid the one that signed its last token.
	Kids       []string `json:"kids"`
	SigningKid string   `json:"signing_kid"`
	App        struct {
		ID       string `json:"id"`
		ClientID string `json:"client_id"`
		// Secret is the app's current secret; Graced the one a rotation
		// left valid until GraceEnds.
		Secret    string    `json:"secret"`
		Graced    string    `json:"graced"`
		GraceEnds time.Time `json:"grace_ends"`
	} `json:"app"`
	Webhook struct {
		ID        string    `json:"id"`
		Secret    string    `json:"secret"`
		Graced    string    `json:"graced"`
		GraceEnds time.Time `json:"grace_ends"`
	} `json:"webhook"`
	// Idempotent are POSTs made with an Idempotency-Key by the admin's
	// token, whose answers the log holds sealed, until ReplayUntil.
	Idempotent  []sealedV0Post `json:"idempotent"`
	ReplayUntil time.Time      `json:"replay_until"`
}

type sealedV0Post struct {
	Path   string          `json:"path"`
	Key    string          `json:"key"`
	Body   json.RawMessage `json:"body"`
	Status int             `json:"status"`
	Answer json.RawMessage `json:"answer"`
}

// sealedV0Env is the configuration both the writer and the reader run
// with: keys that do not rotate by age for ten years, the longest
// idempotency retention, deliveries to a loopback receiver.
func sealedV0Env(masterKey string) []option {
	return []option{withEnv("MASTER_KEY", masterKey), withEnv("KEY_ROTATION_PERIOD", "87600h"),
		withEnv("IDEMPOTENCY_RETENTION", "720h"), withEnv("WEBHOOK_ALLOW_PRIVATE", "true"), withEnv("WEBHOOK_TIMEOUT", "5s")}
}

// TestWriteSealedV0 writes the fixture with the binary named by
// E2E_WRITE_SEALED_V0 (a build of the old release) into
// testdata/sealed-v0. It is skipped otherwise; scripts/sealed-v0.sh runs
// it.
func TestWriteSealedV0(t *testing.T) {
	bin := os.Getenv("E2E_WRITE_SEALED_V0")
	if bin == "" {
		t.Skip("E2E_WRITE_SEALED_V0 is not set: the fixture is written only on purpose")
	}
	var m sealedV0Manifest
	m.Commit, m.Generated = os.Getenv("E2E_WRITE_SEALED_V0_COMMIT"), time.Now().UTC().Truncate(time.Second)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	m.MasterKey = base64.StdEncoding.EncodeToString(key)

	dir := workDir(t, "sealed-v0")
	s := serveDir(t, bin, dir, sealedV0Env(m.MasterKey)...)
	a := adminAPI(t, s)

	// A key rotation: a second sealed signing key besides the first two.
	if r := a.call(http.MethodPost, "/v1/platform/keys/rotate", nil); r.Status != http.StatusAccepted {
		t.Fatalf("rotate keys: %s", r)
	}
	// The webhook's event type and scope first: a new scope of the admin
	// app changes its tokens' authority, and with it the idempotency key
	// space (callerKey), so the token of the idempotent POSTs comes after.
	typ, _ := webhookTenant(t, a)
	a = adminAPI(t, s)

	post := func(path string, body map[string]any) reply {
		raw, _ := json.Marshal(body)
		key := "sealed-v0-" + strings.ToLower(rand.Text()[:10])
		r := a.call(http.MethodPost, path, raw, "Idempotency-Key", key)
		if r.Status != http.StatusCreated {
			t.Fatalf("POST %s: %s", path, r)
		}
		m.Idempotent = append(m.Idempotent, sealedV0Post{Path: path, Key: key, Body: raw, Status: r.Status, Answer: r.Body})
		return r
	}
	// An app with a secret, then rotated with a grace period: both sealed
	// answers hold a secret.
	var app appView
	post("/v1/platform/apps", map[string]any{"name": "sealed-v0-app", "requested_scopes": []string{"webhooks:read"}}).decode(t, &app)
	const grace = 30 * 24 * time.Hour
	var rotated struct {
		ClientSecret string `json:"client_secret"`
	}
	post("/v1/platform/apps/"+app.ID+"/secrets", map[string]any{"grace_period_seconds": int(grace.Seconds())}).decode(t, &rotated)
	m.App.ID, m.App.ClientID, m.App.Graced, m.App.Secret = app.ID, app.ClientID, app.ClientSecret, rotated.ClientSecret
	m.App.GraceEnds = time.Now().Add(grace).UTC()
	if m.App.Secret == "" || m.App.Graced == "" {
		t.Fatalf("app secrets missing: %+v", m.App)
	}
	// A tenant: its admin app's secret in the sealed answer.
	post("/v1/tenants", map[string]any{"name": "sealed-v0-tenant"})

	// A webhook with a rotated secret in grace; a test delivery carries
	// both signatures.
	rcv := newReceiver(t)
	var w webhookView
	post("/v1/webhooks", map[string]any{"url": rcv.srv.URL, "events": []string{typ}, "description": "sealed-v0"}).decode(t, &w)
	var wrot struct {
		Secret string `json:"secret"`
	}
	post("/v1/webhooks/"+w.ID+"/secret/rotate", map[string]any{"grace_period_seconds": int(grace.Seconds())}).decode(t, &wrot)
	m.Webhook.ID, m.Webhook.Graced, m.Webhook.Secret, m.Webhook.GraceEnds = w.ID, w.Secret, wrot.Secret, time.Now().Add(grace).UTC()
	rcv.setSecrets(m.Webhook.Secret, m.Webhook.Graced)
	if r := a.call(http.MethodPost, "/v1/webhooks/"+w.ID+"/test", nil); r.Status != http.StatusOK {
		t.Fatalf("test send: %s", r)
	}
	if got := rcv.received(); len(got) != 1 || !slices.Equal(got[0].Verified, []bool{true, true}) {
		t.Fatalf("the writer's test delivery: %+v", got)
	}
	m.ReplayUntil = time.Now().Add(720 * time.Hour).UTC()

	tok := a.mint(adminCreds()).AccessToken
	h, _ := a.verifyJOSE(tok)
	m.SigningKid = h.KeyID
	m.Kids = kids(a.jwks())
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, s.logs())
	}

	out := filepath.Join(sealedV0Dir, "data")
	if err := os.RemoveAll(out); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(out, os.DirFS(filepath.Join(dir, "jetstream"))); err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(sealedV0Dir, "manifest.json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes of store)", sealedV0Dir, dirSize(t, out))
}

// serveDir starts bin on the data directory dir, which may hold a log
// already, and stops it when t ends.
func serveDir(t *testing.T, bin, dir string, opts ...option) *server {
	t.Helper()
	s, err := newServer(bin, dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	s.name = t.Name()
	watch(s)
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("server logs:\n%s", s.logs())
		}
	})
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

func dirSize(t *testing.T, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

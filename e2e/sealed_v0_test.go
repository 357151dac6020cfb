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

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/jwks"
	"github.com/gatehouse/gatehouse/sealing"
	"github.com/gatehouse/gatehouse/webhooks"
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
	Path string `json:"path"`
	Key  string `json:"key"`
	// Body is the request's body, byte for byte (its digest is part of
	// the record).
	Body   string          `json:"body"`
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
		m.Idempotent = append(m.Idempotent, sealedV0Post{Path: path, Key: key, Body: string(raw), Status: r.Status, Answer: r.Body})
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

// TestSealedV0Opens serves a copy of the sealed-v0 fixture (written by
// the release before package sealing) with this build: it starts, signs
// with the old signing key, the old app secrets authenticate, the old
// webhook secrets sign deliveries, the old idempotent answers replay; every
// sealed field of the old log opens with package sealing and is version 0,
// and what this build seals anew is version 1.
func TestSealedV0Opens(t *testing.T) {
	t.Parallel()
	var m sealedV0Manifest
	b, err := os.ReadFile(filepath.Join(sealedV0Dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if n := dirSize(t, filepath.Join(sealedV0Dir, "data")); n > 300<<10 {
		t.Errorf("the fixture's store is %d bytes: keep it under 300 KiB", n)
	}
	master, err := base64.StdEncoding.DecodeString(m.MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := sealing.New(master)
	if err != nil {
		t.Fatal(err)
	}
	copyFixture := func(what string) string {
		dir := workDir(t, what)
		if err := os.CopyFS(filepath.Join(dir, "jetstream"), os.DirFS(filepath.Join(sealedV0Dir, "data"))); err != nil {
			t.Fatal(err)
		}
		return dir
	}

	// The log as the old release left it: every sealed field opens, and
	// is version 0.
	evs, err := decodeLog(copyFixture("log"), "gh")
	if err != nil {
		t.Fatal(err)
	}
	known := sealedKnown{answers: map[string]json.RawMessage{}, webhookKeys: map[string]bool{}}
	known.add(t, m.Webhook.Secret, m.Webhook.Graced)
	for _, p := range m.Idempotent {
		known.answers[p.Key] = p.Answer
	}
	v0 := openSealed(t, keys, evs, known)
	for kind, n := range map[string]int{"signing-key": 3, "webhook-secret": 2, "idempotency-answer": len(m.Idempotent)} {
		if v0[kind][0] < n || v0[kind][1] != 0 {
			t.Errorf("the fixture's log: %s: %d version 0 and %d version 1 values; want at least %d version 0 and no version 1", kind, v0[kind][0], v0[kind][1], n)
		}
	}

	s := serveDir(t, binary(t), copyFixture("server"), sealedV0Env(m.MasterKey)...)
	a := adminAPI(t, s)

	t.Run("signing key", func(t *testing.T) {
		a := a.in(t)
		set := kids(a.jwks())
		tok := a.mint(adminCreds()).AccessToken
		h, _ := a.verifyJOSE(tok) // against the JWKS served
		if !slices.Contains(m.Kids, h.KeyID) || !slices.Contains(set, h.KeyID) {
			t.Fatalf("a new token is signed by %s; want a key of the old release %v (published: %v)", h.KeyID, m.Kids, set)
		}
		if !a.active(tok) {
			t.Fatal("the new token does not introspect active")
		}
	})

	t.Run("app secrets", func(t *testing.T) {
		a := a.in(t)
		if _, err := a.tryMint(credentials{m.App.ClientID, m.App.Secret, oauth2.AuthStyleInHeader}); err != nil {
			t.Fatalf("the app's current secret: %v", err)
		}
		_, err := a.tryMint(credentials{m.App.ClientID, m.App.Graced, oauth2.AuthStyleInHeader})
		if inGrace(m.App.GraceEnds) && err != nil {
			t.Fatalf("the app's secret in grace (until %s): %v", m.App.GraceEnds, err)
		}
		if time.Now().After(m.App.GraceEnds) {
			wantTokenError(t, err, http.StatusUnauthorized, "invalid_client")
		}
		if _, err := a.tryMint(credentials{m.App.ClientID, m.App.Secret + "x", oauth2.AuthStyleInHeader}); err == nil {
			t.Fatal("a wrong secret minted")
		}
	})

	t.Run("webhook secrets", func(t *testing.T) {
		a := a.in(t)
		rcv := newReceiver(t)
		rcv.setSecrets(m.Webhook.Secret, m.Webhook.Graced)
		if r := a.call(http.MethodPatch, "/v1/webhooks/"+m.Webhook.ID, map[string]any{"url": rcv.srv.URL}); r.Status != http.StatusOK {
			t.Fatalf("point the webhook at this test's receiver: %s", r)
		}
		if r := a.call(http.MethodPost, "/v1/webhooks/"+m.Webhook.ID+"/test", nil); r.Status != http.StatusOK {
			t.Fatalf("test send: %s", r)
		}
		got := rcv.received()
		if len(got) != 1 || !got[0].Verified[0] {
			t.Fatalf("the delivery does not verify with the webhook's current secret: %+v", got)
		}
		if grace := inGrace(m.Webhook.GraceEnds); grace && (!got[0].Verified[1] || got[0].SigCount != 2) {
			t.Fatalf("in grace (until %s), the delivery is not signed with the old secret too: %+v", m.Webhook.GraceEnds, got[0])
		}
	})

	t.Run("idempotent replays", func(t *testing.T) {
		if !time.Now().Before(m.ReplayUntil.Add(-time.Hour)) {
			t.Skipf("the fixture's answers were retained until %s: run scripts/sealed-v0.sh (the log check above still opens them)", m.ReplayUntil)
		}
		a := a.in(t)
		for _, p := range m.Idempotent {
			r := a.call(http.MethodPost, p.Path, p.Body, "Idempotency-Key", p.Key)
			if r.Status != p.Status || r.Header.Get("Idempotent-Replayed") != "true" || !sameJSON(t, r.Body, p.Answer) {
				t.Errorf("replay of POST %s: %s (replayed %q); want %d %s", p.Path, r, r.Header.Get("Idempotent-Replayed"), p.Status, p.Answer)
			}
		}
	})

	// New values: a key rotation and a webhook secret rotation seal in
	// version 1, beside the old values.
	if r := a.call(http.MethodPost, "/v1/platform/keys/rotate", nil); r.Status != http.StatusAccepted {
		t.Fatalf("rotate keys: %s", r)
	}
	var rot struct {
		Secret string `json:"secret"`
	}
	r := a.call(http.MethodPost, "/v1/webhooks/"+m.Webhook.ID+"/secret/rotate", map[string]any{"grace_period_seconds": 60}, "Idempotency-Key", "sealed-v1-"+rand.Text())
	if r.Status != http.StatusCreated {
		t.Fatalf("rotate the webhook secret: %s", r)
	}
	r.decode(t, &rot)
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	evs, err = decodeLog(s.Dir, "gh")
	if err != nil {
		t.Fatal(err)
	}
	known.add(t, rot.Secret)
	known.answers["new"] = r.Body
	now := openSealed(t, keys, evs, known)
	for _, kind := range []string{"signing-key", "webhook-secret", "idempotency-answer"} {
		if now[kind][0] != v0[kind][0] || now[kind][1] < 1 {
			t.Errorf("after new writes: %s: %d version 0 and %d version 1 values; want the %d old ones and new ones in version 1", kind, now[kind][0], now[kind][1], v0[kind][0])
		}
	}
}

// inGrace reports whether a grace period ending at end surely has not
// ended (a minute's margin for the server's clock).
func inGrace(end time.Time) bool { return time.Now().Before(end.Add(-time.Minute)) }

// sealedKnown is what the sealed fields of a log must open to: the raw
// keys of webhook secrets, and idempotent answers.
type sealedKnown struct {
	webhookKeys map[string]bool
	answers     map[string]json.RawMessage
}

func (k sealedKnown) add(t *testing.T, secrets ...string) {
	for _, s := range secrets {
		raw, err := webhooks.ParseSecret(s)
		if err != nil {
			t.Fatal(err)
		}
		k.webhookKeys[string(raw)] = true
	}
}

// openSealed opens every sealed field of evs with keys, failing t for any
// that does not open or opens to something else than known, and counts
// them per purpose and version.
func openSealed(t *testing.T, keys *sealing.Keys, evs []events.Event, known sealedKnown) map[string][2]int {
	t.Helper()
	count := map[string][2]int{}
	note := func(kind, sealed string) {
		v, _, ok := sealing.Version(sealed)
		if !ok || v > 1 {
			t.Errorf("%s: unknown version in %.12q", kind, sealed)
			return
		}
		c := count[kind]
		c[v]++
		count[kind] = c
	}
	for _, e := range evs {
		p, err := events.Decode(e)
		if err != nil {
			continue // a type this test does not look at, or an old one
		}
		switch p := p.(type) {
		case *events.KeyCreated:
			note("signing-key", p.PrivateKeyEnc)
			if _, err := jwks.Open(keys.Purpose(sealing.SigningKey), p.KID, p.PrivateKeyEnc); err != nil {
				t.Errorf("key %s: %v", p.KID, err)
			}
		case *events.WebhookCreated:
			note("webhook-secret", p.SecretSealed)
			openWebhookKey(t, keys, e.Aggregate.ID, p.SecretID, p.SecretSealed, known.webhookKeys)
		case *events.WebhookSecretRotated:
			note("webhook-secret", p.SecretSealed)
			openWebhookKey(t, keys, e.Aggregate.ID, p.SecretID, p.SecretSealed, known.webhookKeys)
		case *events.IdempotencyCompleted:
			note("idempotency-answer", p.BodySealed)
			body, err := keys.Purpose(sealing.IdempotencyAnswer).Open(e.Aggregate.String(), p.BodySealed)
			if err != nil {
				t.Errorf("idempotency answer of %s: %v", e.Aggregate, err)
				continue
			}
			found := false
			for _, a := range known.answers {
				found = found || sameJSON(t, body, a)
			}
			if !found {
				t.Errorf("idempotency answer of %s opens to an answer the manifest does not know: %.80s", e.Aggregate, body)
			}
		}
	}
	return count
}

func openWebhookKey(t *testing.T, keys *sealing.Keys, webhookID, secretID, sealed string, want map[string]bool) {
	t.Helper()
	k, err := keys.Purpose(sealing.WebhookSecret).Open(webhooks.SecretAAD(webhookID, secretID), sealed)
	if err != nil {
		t.Errorf("webhook %s secret %s: %v", webhookID, secretID, err)
		return
	}
	if !want[string(k)] {
		t.Errorf("webhook %s secret %s opens to a key of no secret the manifest knows", webhookID, secretID)
	}
}

package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/sealing"
	"github.com/gatehouse/gatehouse/webhooks"
)

// refreshEnv is a vault on a real JetStream log (an embedded NATS
// server), its projector and a memory store, a provider of the test's own
// (a rotating refresh token per answer), and a clock the test drives.
type refreshEnv struct {
	t        *testing.T
	log      events.Log
	store    *memory.Store
	proj     *projections.Projector
	mu       sync.Mutex
	now      time.Time
	requests atomic.Int64
	keys     *sealing.Keys
	url      string
}

func newRefreshEnv(t *testing.T) *refreshEnv {
	t.Helper()
	emb, err := events.StartEmbedded(events.EmbeddedConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := emb.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	l, err := events.Open(context.Background(), nc, events.Config{Prefix: "v" + hex.EncodeToString(b)})
	if err != nil {
		t.Fatal(err)
	}
	store := memory.New()
	proj, err := projections.New(projections.Config{Log: l, Store: store, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := proj.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proj.Close() })
	keys, err := sealing.New(randomBytes(t, 32))
	if err != nil {
		t.Fatal(err)
	}
	env := &refreshEnv{t: t, log: l, store: store, proj: proj, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), keys: keys}
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := env.requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("at-%d", n), "refresh_token": fmt.Sprintf("rt-%d", n),
			"token_type": "Bearer", "expires_in": 86400})
	}))
	t.Cleanup(prov.Close)
	env.url = prov.URL + "/token"
	return env
}

func (e *refreshEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *refreshEnv) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

// vault is one instance.
func (e *refreshEnv) vault(instance string) *Vault {
	return &Vault{Log: e.log, Store: e.store, WaitFor: e.proj.WaitFor, CatchUp: e.proj.CatchUp,
		Secrets: e.keys.Purpose(sealing.CredentialSecret), Tokens: e.keys.Purpose(sealing.CredentialTokens),
		Client: webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: true, Timeout: 5 * time.Second}), AllowPrivate: true,
		Instance: instance, Retain: 2 * time.Hour, Now: e.clock, Logger: slog.New(slog.DiscardHandler)}
}

// create appends a client_credentials credential with its first token
// set (a day long, with a refresh token), as the create request does.
func (e *refreshEnv) create(v *Vault, tenant, id string) {
	e.t.Helper()
	e.seed(v, tenant, id, "crm_"+id, "custom", GrantClientCredentials, "created",
		grantAnswer{tokens: tokenSet{AccessToken: "at-0", RefreshToken: "rt-0"}, tokenType: "Bearer", expiresIn: 86400})
}

// seed appends a credential of grant type grant with its first token set
// a (version 1, by reason: "created", "authorized") and waits until it
// is projected.
func (e *refreshEnv) seed(v *Vault, tenant, id, name, provider, grant, reason string, a grantAnswer) {
	e.t.Helper()
	now := e.clock()
	c := projections.Credential{ID: id, Tenant: tenant, GrantType: grant, Scopes: []string{}, RefreshBeforeSeconds: DefaultRefreshBefore}
	p, err := v.tokensEvent(c, 1, reason, a, nil, now)
	if err != nil {
		e.t.Fatal(err)
	}
	evs, err := events.NewAll(events.System, now,
		events.Change{Ref: credentialRef(tenant, id), Payload: &events.CredentialCreated{Name: name, Provider: provider, GrantType: grant,
			ClientID: "cid", Scopes: []string{}, TokenURL: e.url, ScopeSeparator: " ", RefreshBeforeSeconds: DefaultRefreshBefore, Grants: []string{}}},
		events.Change{Ref: credentialRef(tenant, id), Payload: p})
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := e.log.Append(e.t.Context(), events.Append{Events: evs})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.proj.WaitFor(e.t.Context(), res.Stream, res.Last()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *refreshEnv) get(tenant, id string) projections.Credential {
	e.t.Helper()
	if err := e.proj.CatchUp(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	c, err := projections.GetCredential(e.t.Context(), e.store, tenant, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// types lists the event types of aggregate ref.
func (e *refreshEnv) types(ref events.Ref) []string {
	e.t.Helper()
	evs, err := e.log.Read(e.t.Context(), ref)
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}

// TestRefreshStateOnHighVolume: a refresh appends its claim and its token
// set to the credential's refresh aggregate on the high-volume stream
// (and, once, credential.refresh_moved on the control stream), nothing
// else on the control stream; two instances due at once refresh it once;
// the state is re-appended as a snapshot half way through the stream's
// max age, carrying the still valid versions, so a rollback target
// survives; a deleted credential's state is ended. The clock is the
// test's.
func TestRefreshStateOnHighVolume(t *testing.T) {
	e := newRefreshEnv(t)
	ctx := t.Context()
	v1, v2 := e.vault("inst_1"), e.vault("inst_2")
	e.create(v1, "t1", "cred_1")
	c := e.get("t1", "cred_1")
	if c.Current != 1 || c.RefreshSeq != 0 || c.NextRefreshAt == nil {
		t.Fatalf("created: %+v", c)
	}
	if _, err := v1.Refresh(ctx, "t1", "cred_1", false); !errors.Is(err, errNotDue) {
		t.Fatalf("refresh before due: %v", err)
	}
	// Due: both instances at once; one asks the provider.
	e.advance(c.NextRefreshAt.Sub(e.clock()) + time.Second)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, v := range []*Vault{v1, v2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = v.Refresh(ctx, "t1", "cred_1", false)
		}()
	}
	wg.Wait()
	if n := e.requests.Load(); n != 1 {
		t.Fatalf("%d token requests for one due refresh (errors %v)", n, errs)
	}
	c = e.get("t1", "cred_1")
	if c.Current != 2 || c.RefreshSeq == 0 || !c.RefreshMoved || c.RefreshAttempts < 1 || c.ClaimedBy != "" {
		t.Fatalf("refreshed: current %d seq %d moved %v attempts %d claimed %q", c.Current, c.RefreshSeq, c.RefreshMoved, c.RefreshAttempts, c.ClaimedBy)
	}
	if tok, ver, _, err := v1.AccessToken(c); err != nil || tok != "at-1" || ver != 2 {
		t.Fatalf("current token %q v%d %v", tok, ver, err)
	}
	if got := e.types(credentialRef("t1", "cred_1")); len(got) != 3 || got[2] != "credential.refresh_moved" {
		t.Fatalf("control events %v", got)
	}
	if got := e.types(refreshRef("t1", "cred_1")); len(got) != 2 || got[0] != "credential_refresh.claimed" || got[1] != "credential_refresh.stored" {
		t.Fatalf("refresh events %v", got)
	}
	// A second refresh, forced: the control stream gets nothing more.
	if _, err := v2.Refresh(ctx, "t1", "cred_1", true); err != nil {
		t.Fatal(err)
	}
	if got := e.types(credentialRef("t1", "cred_1")); len(got) != 3 {
		t.Fatalf("control events after a second refresh %v", got)
	}
	c = e.get("t1", "cred_1")
	kept, err := projections.CredentialVersions(ctx, e.store, c)
	if err != nil || len(kept) != 3 || c.Current != 3 {
		t.Fatalf("versions %d current %d %v", len(kept), c.Current, err)
	}

	// Not yet half way through the retention (2 h): nothing to keep.
	if err := v1.upkeep(ctx, "t1", "cred_1"); err != nil {
		t.Fatalf("upkeep before the snapshot is due: %v", err)
	}
	due, ok, err := projections.NextCredentialDue(ctx, e.store)
	if err != nil || !ok || !due.Equal(c.RefreshAt.Add(time.Hour)) {
		t.Fatalf("next due %v %v %v, want the snapshot at %v", due, ok, err, c.RefreshAt.Add(time.Hour))
	}
	e.advance(time.Hour + time.Second)
	if err := v1.upkeep(ctx, "t1", "cred_1"); !errors.Is(err, errUpkept) {
		t.Fatalf("upkeep when the snapshot is due: %v", err)
	}
	got := e.types(refreshRef("t1", "cred_1"))
	if got[len(got)-1] != "credential_refresh.snapshot" {
		t.Fatalf("refresh events %v", got)
	}
	evs, _ := e.log.Read(ctx, refreshRef("t1", "cred_1"))
	p, err := events.Decode(evs[len(evs)-1])
	if err != nil {
		t.Fatal(err)
	}
	snap := p.(*events.CredentialRefreshSnapshot)
	// v1 (a day long, issued a day before) has expired: v2 and v3 only.
	if len(snap.State.Versions) != 2 || snap.State.Versions[0].Version != 2 || snap.State.Current != 3 || snap.State.RetainSeconds != 7200 {
		t.Fatalf("the snapshot carries %d versions, current %d, retain %d", len(snap.State.Versions), snap.State.Current, snap.State.RetainSeconds)
	}
	c = e.get("t1", "cred_1")
	due, _, _ = projections.NextCredentialDue(ctx, e.store)
	if !due.Equal(c.RefreshAt.Add(time.Hour)) {
		t.Fatalf("after the snapshot, due %v, want %v", due, c.RefreshAt.Add(time.Hour))
	}
	if c.RefreshAttempts != 2 {
		t.Fatalf("attempts %d after two refreshes and a snapshot", c.RefreshAttempts)
	}

	// Deleted: the refresher's next look ends the state.
	evs, err = events.NewAll(events.System, e.clock(), events.Change{Ref: credentialRef("t1", "cred_1"), Payload: &events.CredentialDeleted{Name: c.Name}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.log.Append(ctx, events.Append{Events: evs}); err != nil {
		t.Fatal(err)
	}
	if err := e.proj.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := v1.upkeep(ctx, "t1", "cred_1"); !errors.Is(err, errUpkept) {
		t.Fatalf("upkeep of a deleted credential: %v", err)
	}
	if err := e.proj.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	rs, err := projections.GetCredentialRefresh(ctx, e.store, "t1", "cred_1")
	if err != nil || !rs.Ended || len(rs.State.Versions) != 0 {
		t.Fatalf("deleted credential's state %+v %v", rs, err)
	}
	if _, ok, _ := projections.NextCredentialDue(ctx, e.store); ok {
		t.Fatal("a deleted credential is still scheduled")
	}
}

package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/projections/postgres"
	"github.com/gatehouse/gatehouse/projections/postgres/pgtest"
)

// wait bounds the waits of these tests.
const wait = 60 * time.Second

// t0 is the time of the first event; later ones add milliseconds.
var t0 = time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC)

// TestReplayMatchesMemory: the projector over a real log gives, in
// PostgreSQL, the documents and checkpoints it gives in memory, byte for
// byte; and a new instance (a store with a cold cache on the same schema)
// goes on from the checkpoint with the same result.
func TestReplayMatchesMemory(t *testing.T) {
	pool := pgtest.Pool(t, "")
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	appendWorkload(t, log, 0)
	mem := memory.New()
	pg := open(t, pool, postgres.Config{})
	pm := startProjector(t, log, mem)
	pp := startProjector(t, log, pg)
	catchUp(t, pm, pp)
	wantSameAsMemory(t, pg, mem)

	// Restart on the same schema with a new store; events written while
	// it was down, and after, are applied once.
	_ = pp.Close()
	appendWorkload(t, log, 1)
	again := open(t, pool, postgres.Config{Schema: pg.Schema()})
	pp = startProjector(t, log, again)
	appendWorkload(t, log, 2)
	catchUp(t, pm, pp)
	wantSameAsMemory(t, again, mem)
}

// wantSameAsMemory fails the test unless pg holds what mem holds.
func wantSameAsMemory(t *testing.T, pg *postgres.Store, mem *memory.Store) {
	t.Helper()
	got, err := pg.Docs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := mem.Docs()
	if len(want) < 50 {
		t.Fatalf("only %d documents: the workload did not project", len(want))
	}
	if !reflect.DeepEqual(got, want) {
		for i := range min(len(got), len(want)) {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("document %d differs:\npostgres %+v\n%s\nmemory   %+v\n%s", i, got[i], got[i].Body, want[i], want[i].Body)
			}
		}
		t.Fatalf("postgres holds %d documents, memory %d", len(got), len(want))
	}
	cg, err := pg.Checkpoint(t.Context())
	cm, _ := mem.Checkpoint(t.Context())
	if err != nil || !reflect.DeepEqual(cg, cm) {
		t.Fatalf("checkpoints: postgres %v (%v), memory %v", cg, err, cm)
	}
}

// appendWorkload appends round r of the workload (workload), failing
// the test on an error: it must run in the test's goroutine.
func appendWorkload(t testing.TB, l events.Log, r int) {
	t.Helper()
	if err := workload(l, r); err != nil {
		t.Fatal(err)
	}
}

// workload appends round r of a history touching apps (created, renamed,
// scopes, secrets, deleted, a name reused), tokens revoked on the
// high-volume stream, catalog scopes, claimed names and signing keys,
// with an event type this build does not know in between. It returns the
// first failed append's error (t.Fatal is the test goroutine's: a test
// appending from another goroutine waits for this error there).
func workload(l events.Log, r int) error {
	ms := r * 10_000
	tenant := fmt.Sprintf("t%d", r)
	var evs []events.Event
	add := func(e ...events.Event) { evs = append(evs, e...) }
	if r == 0 {
		add(ev("system", events.AggSystem, "bootstrap", ms, &events.SystemBootstrapped{Tenant: "default", AdminAppID: "app_0"}),
			ev("default", events.AggTenant, "default", ms, &events.TenantCreated{Name: "default", AdminAppID: "app_0"}))
	}
	for i := range 40 {
		add(appCreated(tenant, appID(r, i), fmt.Sprintf("App %d", i), fmt.Sprintf("cid_%d_%d", r, i), ms+i))
	}
	for i := 0; i < 40; i += 3 {
		name := fmt.Sprintf("Renamed %d", i)
		add(ev(tenant, events.AggApp, appID(r, i), ms+100+i, &events.AppUpdated{Name: &name}))
		add(ev(tenant, events.AggApp, appID(r, i), ms+200+i, &events.AppScopeRequested{Scopes: []events.ScopeGrant{{Scope: "c:admin", Status: "pending"}}}))
		add(ev(tenant, events.AggApp, appID(r, i), ms+300+i, &events.AppScopeApproved{Scope: "c:admin", Approvals: 1, ApprovalsRequired: 1}))
		add(ev(tenant, events.AggApp, appID(r, i), ms+400+i, &events.AppSecretRotated{SecretID: fmt.Sprintf("sec2_%d", i), SecretHash: "hmac:x", PreviousExpiresAt: t0.Add(time.Hour)}))
	}
	add(futureEvent(tenant, ms+500),
		ev(tenant, events.AggApp, appID(r, 2), ms+501, &events.AppDeleted{ClientID: fmt.Sprintf("cid_%d_2", r)}),
		appCreated(tenant, appID(r, 99), "App 2", fmt.Sprintf("cid_%d_99", r), ms+502)) // reuses app 2's name
	for i := range 5 {
		name := fmt.Sprintf("s%d:read", i)
		add(ev(tenant, events.AggScope, "", ms+600+i, &events.ScopeDefined{Name: name, Description: "scope ünïcode", RequiresApproval: i%2 == 0, ApprovalsRequired: 1}))
		add(ev(tenant, events.AggName, "", ms+620+i, &events.NameClaimed{Namespace: "webhook", Value: fmt.Sprintf("hook %d", i), Owner: fmt.Sprintf("wh_%d", i)}))
	}
	add(ev(tenant, events.AggScope, "", ms+700, &events.ScopeDeleted{Name: "s1:read"}))
	kid := fmt.Sprintf("kid_%d", r)
	add(ev(events.KeyTenant, events.AggKey, kid, ms+800, &events.KeyCreated{KID: kid, Alg: "ES256", PublicJWK: json.RawMessage(`{"kty":"EC", "crv":"P-256"}`),
		PrivateKeyEnc: "enc", CreatedAt: t0, PublishAt: t0, ActivateAt: t0}))
	add(ev(events.KeyTenant, events.AggKey, kid, ms+801, &events.KeyActivated{KID: kid}))
	for i := range 6 { // users: every event type, a deletion and its e-mail reused
		id, email := fmt.Sprintf("user_%d_%d", r, i), fmt.Sprintf("U%d@example.com", i)
		add(ev(tenant, events.AggUser, id, ms+850+i, &events.UserCreated{Email: email, Name: "Üser", Roles: []string{events.RoleMember}, PasswordHashSealed: "v1:sealed"}))
		roles, name := []string{events.RoleAdmin, events.RoleMember}, fmt.Sprintf("User %d", i)
		add(ev(tenant, events.AggUser, id, ms+860+i, &events.UserUpdated{Name: &name, Roles: &roles}),
			ev(tenant, events.AggUser, id, ms+870+i, &events.UserPasswordChanged{PasswordHashSealed: "v1:new"}),
			ev(tenant, events.AggUser, id, ms+880+i, &events.UserDisabled{}))
		if i%2 == 0 {
			add(ev(tenant, events.AggUser, id, ms+890+i, &events.UserEnabled{}))
		}
	}
	add(ev(tenant, events.AggUser, fmt.Sprintf("user_%d_3", r), ms+897, &events.UserDeleted{Email: "U3@example.com"}),
		ev(tenant, events.AggUser, fmt.Sprintf("user_%d_9", r), ms+898, &events.UserCreated{Email: "u3@EXAMPLE.com", Name: "again", Roles: []string{events.RoleMember}, PasswordHashSealed: "v1:x"}))
	for i := range 4 { // credentials: every event type, more token sets than are kept, a deletion and its name reused
		id, name := fmt.Sprintf("cred_%d_%d", r, i), fmt.Sprintf("crm_%d", i)
		add(ev(tenant, events.AggCredential, id, ms+850+i, &events.CredentialCreated{Name: name, Provider: "custom", GrantType: "client_credentials",
			ClientID: "cid", Scopes: []string{"a", "b"}, TokenURL: "https://idp.example/token", ScopeSeparator: " ", ClientSecretSealed: "v1:s",
			RefreshBeforeSeconds: 300, Grants: []string{}}))
		renamed, before := name+"_x", 60
		add(ev(tenant, events.AggCredential, id, ms+860+i, &events.CredentialUpdated{Name: &renamed, RefreshBeforeSeconds: &before}))
		for v := 1; v <= 12; v++ {
			exp, at := t0.Add(time.Duration(v)*time.Hour), t0.Add(time.Duration(v)*time.Hour-time.Minute)
			add(ev(tenant, events.AggCredential, id, ms+870+i, &events.CredentialRefreshClaimed{Instance: "inst", Until: t0.Add(time.Minute)}),
				ev(tenant, events.AggCredential, id, ms+870+i, &events.CredentialTokensStored{Version: v, Reason: "refreshed", TokenType: "Bearer",
					ExpiresAt: &exp, RefreshAt: &at, HasRefreshToken: v%2 == 0, TokensSealed: "v1:t"}))
		}
		next := t0.Add(2 * time.Minute)
		add(ev(tenant, events.AggCredential, id, ms+880+i, &events.CredentialRefreshFailed{Attempt: 1, Error: "temporarily_unavailable", NextAttemptAt: &next}),
			ev(tenant, events.AggCredential, id, ms+881+i, &events.CredentialExpiring{ExpiresAt: t0.Add(time.Hour)}),
			ev(tenant, events.AggCredential, id, ms+882+i, &events.CredentialRolledBack{Version: 11}))
		if i%2 == 0 {
			add(ev(tenant, events.AggCredential, id, ms+883+i, &events.CredentialRevoked{Error: "invalid_grant"}))
		}
	}
	add(ev(tenant, events.AggCredential, fmt.Sprintf("cred_%d_1", r), ms+890, &events.CredentialDeleted{Name: "crm_1_x"}),
		ev(tenant, events.AggCredential, fmt.Sprintf("cred_%d_9", r), ms+891, &events.CredentialCreated{Name: "crm_1_x", Provider: "github",
			GrantType: "authorization_code", ClientID: "c", TokenURL: "https://github.com/login/oauth/access_token", ScopeSeparator: " "}))
	for len(evs) > 0 { // in atomic batches of various sizes
		n := min(len(evs), 1+len(evs)%17)
		if err := appendAll(l, evs[:n]...); err != nil {
			return err
		}
		evs = evs[n:]
	}
	for i := range 60 {
		if err := appendAll(l, ev(tenant, events.AggToken, fmt.Sprintf("jti_%d_%d", r, i), ms+900+i,
			&events.TokenRevoked{JTI: fmt.Sprintf("jti_%d_%d", r, i), AppID: appID(r, i%40), ExpiresAt: t0.Add(time.Hour)})); err != nil {
			return err
		}
	}
	return nil
}

func appID(r, i int) string { return fmt.Sprintf("app_%d_%d", r, i) }

// ev builds an event of aggregate typ/id in tenant at t0 + ms. The
// aggregate of a catalog scope or a name is derived from the payload.
func ev(tenant, typ, id string, ms int, p events.Payload) events.Event {
	ref := events.Ref{Tenant: tenant, Type: typ, ID: id}
	switch p := p.(type) {
	case *events.ScopeDefined:
		ref = events.ScopeRef(tenant, p.Name)
	case *events.ScopeDeleted:
		ref = events.ScopeRef(tenant, p.Name)
	case *events.NameClaimed:
		ref = events.NameRef(tenant, p.Namespace, p.Value)
	}
	return events.MustNew(ref, events.Actor{Kind: events.ActorApp, ID: "app_actor"}, t0.Add(time.Duration(ms)*time.Millisecond), p)
}

// appCreated is the creation of app id named name with client id cid.
func appCreated(tenant, id, name, cid string, ms int) events.Event {
	return ev(tenant, events.AggApp, id, ms, &events.AppCreated{
		AppSettings: events.AppSettings{ClientID: cid, Name: name, GrantTypes: []string{"client_credentials"},
			TokenEndpointAuthMethod: "client_secret_basic", Active: true, AccessTokenTTLSeconds: 3600},
		Metadata: json.RawMessage(`{"team":  "x", "a": [1, 2]}`), Scopes: []events.ScopeGrant{{Scope: "a:read", Status: "approved"}, {Scope: "b:write", Status: "pending"}},
		SecretID: "sec_" + id, SecretHash: "hmac:" + id,
	})
}

// futureEvent is an event of a type this build does not know.
func futureEvent(tenant string, ms int) events.Event {
	return events.Event{
		ID: events.NewID("evt"), Type: "future.thing", Schema: 3,
		Aggregate: events.Ref{Tenant: tenant, Type: events.AggApp, ID: "app_future"},
		Actor:     events.System, Time: t0.Add(time.Duration(ms) * time.Millisecond),
		Data: json.RawMessage(`{"whatever":true}`),
	}
}

// appendAll appends evs atomically.
func appendAll(l events.Log, evs ...events.Event) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := l.Append(ctx, events.Append{Events: evs}); err != nil {
		return fmt.Errorf("Append: %w", err)
	}
	return nil
}

// startProjector starts a projector of l into s, closed when the test
// ends.
func startProjector(t testing.TB, l events.Log, s projections.Store) *projections.Projector {
	t.Helper()
	p, err := projections.New(projections.Config{Log: l, Store: s, RetryMin: time.Millisecond, RetryMax: 50 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// catchUp waits until every projector has applied the whole log.
func catchUp(t testing.TB, ps ...*projections.Projector) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, p := range ps {
		if err := p.CatchUp(ctx); err != nil {
			t.Fatalf("CatchUp: %v", err)
		}
	}
}

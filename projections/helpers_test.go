package projections_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
	"github.com/gatehouse/gatehouse/projections"
)

// wait bounds every wait of these tests.
const wait = 20 * time.Second

// t0 is the time of the first test event; later ones add milliseconds.
var t0 = time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC)

// logEnv is a real JetStream log on an embedded NATS server.
type logEnv struct {
	emb *events.Embedded
	log *events.JetStream
}

// newLog starts an embedded server in a temporary directory and opens a
// log with a prefix of its own; both end with the test.
func newLog(t testing.TB) logEnv {
	t.Helper()
	emb, err := events.StartEmbedded(events.EmbeddedConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("start NATS: %v", err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := emb.Connect()
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	l, err := events.Open(context.Background(), nc, events.Config{Prefix: "p" + hex.EncodeToString(b)})
	if err != nil {
		t.Fatalf("open log: %v", err)
	}
	return logEnv{emb: emb, log: l}
}

// ctxT is a context that ends with the test or after wait.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// startProjector starts a projector of l into s, closed when the test ends.
func startProjector(t testing.TB, l events.Log, s projections.Store, logs *syncbuf.Buffer) *projections.Projector {
	t.Helper()
	cfg := projections.Config{Log: l, Store: s, RetryMin: time.Millisecond, RetryMax: 20 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	p, err := projections.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctxT(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// appendAll appends evs atomically and returns where they went.
func appendAll(t testing.TB, l events.Log, evs ...events.Event) events.Result {
	t.Helper()
	res, err := l.Append(ctxT(t), events.Append{Events: evs})
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return res
}

// ev builds an event of aggregate typ/id in tenant at t0 + ms.
func ev(tenant, typ, id string, ms int, p events.Payload) events.Event {
	ref := events.Ref{Tenant: tenant, Type: typ, ID: id}
	return events.MustNew(ref, events.Actor{Kind: events.ActorApp, ID: "app_actor"}, t0.Add(time.Duration(ms)*time.Millisecond), p)
}

// appCreated is the creation of app id named name with client id cid.
func appCreated(tenant, id, name, cid string, ms int) events.Event {
	return ev(tenant, events.AggApp, id, ms, &events.AppCreated{
		AppSettings: events.AppSettings{ClientID: cid, Name: name, GrantTypes: []string{"client_credentials"},
			TokenEndpointAuthMethod: "client_secret_basic", Active: true, AccessTokenTTLSeconds: 3600},
		Metadata: json.RawMessage(`{"team": "x"}`), Scopes: []events.ScopeGrant{{Scope: "a:read", Status: "approved"}, {Scope: "b:write", Status: "pending"}},
		SecretID: "sec_" + id, SecretHash: "hmac:" + id,
	})
}

// appRenamed is an app.updated that renames app id.
func appRenamed(tenant, id, name string, ms int) events.Event {
	return ev(tenant, events.AggApp, id, ms, &events.AppUpdated{Name: &name})
}

// appDeleted is the deletion of app id.
func appDeleted(tenant, id, cid string, ms int) events.Event {
	return ev(tenant, events.AggApp, id, ms, &events.AppDeleted{ClientID: cid})
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

// revoked is a token.revoked event of the high-volume stream.
func revoked(tenant, jti string, ms int) events.Event {
	return ev(tenant, events.AggToken, jti, ms, &events.TokenRevoked{JTI: jti, AppID: "app_1", ExpiresAt: t0.Add(time.Hour)})
}

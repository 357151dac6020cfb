package projectionstest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	appseed "github.com/gatehouse/gatehouse/internal/seed"
)

// The replay workloads of the replay benchmarks of every store: Events
// events in all, over Apps apps, appended Batch at a time.
const (
	WorkloadEvents = 100_000
	WorkloadApps   = 1_000
	WorkloadBatch  = 500
)

var workloadT0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func workloadEvent(typ, id string, i int, p events.Payload) events.Event {
	return events.MustNew(events.Ref{Tenant: "t1", Type: typ, ID: id}, events.System, workloadT0.Add(time.Duration(i)*time.Millisecond), p)
}

func workloadApp(i int) events.Event {
	id := fmt.Sprintf("app_%d", i)
	return workloadEvent(events.AggApp, id, i, &events.AppCreated{
		AppSettings: events.AppSettings{ClientID: "cid_" + id, Name: id, GrantTypes: []string{"client_credentials"},
			TokenEndpointAuthMethod: "client_secret_basic", Active: true, AccessTokenTTLSeconds: 3600},
		Scopes: []events.ScopeGrant{{Scope: "a:read", Status: events.GrantApproved}}, SecretID: "sec_" + id, SecretHash: "hmac:" + id,
	})
}

// AppendRewrites appends the worst case for a store: WorkloadApps apps
// created, then renamed in turn until the log holds WorkloadEvents
// events, each event rewriting a document and moving a unique key, in
// atomic batches of WorkloadBatch.
func AppendRewrites(tb testing.TB, log events.Log) {
	tb.Helper()
	batch := make([]events.Event, 0, WorkloadBatch)
	for i := range WorkloadEvents {
		if i < WorkloadApps {
			batch = append(batch, workloadApp(i))
		} else {
			id := fmt.Sprintf("app_%d", i%WorkloadApps)
			name := fmt.Sprintf("%s v%d", id, i/WorkloadApps)
			batch = append(batch, workloadEvent(events.AggApp, id, i, &events.AppUpdated{Name: &name}))
		}
		if len(batch) == WorkloadBatch {
			if _, err := log.Append(context.Background(), events.Append{Events: batch}); err != nil {
				tb.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// AppendMints appends the typical log of a busy server: WorkloadApps apps,
// then token mints until the log holds WorkloadEvents events, packed
// WorkloadBatch to a message as the group committer writes them. Mints
// change no read model: this is the cost of reading the log.
func AppendMints(tb testing.TB, log interface {
	events.Log
	events.Packer
}) {
	tb.Helper()
	apps := make([]events.Event, 0, WorkloadApps)
	for i := range WorkloadApps {
		apps = append(apps, workloadApp(i))
	}
	if _, err := log.Append(context.Background(), events.Append{Events: apps}); err != nil {
		tb.Fatal(err)
	}
	batch := make([]events.Event, 0, WorkloadBatch)
	exp := workloadT0.Add(time.Hour)
	for i := WorkloadApps; i < WorkloadEvents; i++ {
		id := fmt.Sprintf("app_%d", i%WorkloadApps)
		batch = append(batch, workloadEvent(events.AggToken, id, i, &events.TokenMinted{
			JTI: fmt.Sprintf("jti_%d", i), AppID: id, ClientID: "cid_" + id, Subject: "cid_" + id,
			GrantType: "client_credentials", Scopes: []string{"a:read"}, ExpiresAt: exp}))
		if len(batch) == WorkloadBatch || i == WorkloadEvents-1 {
			if _, err := log.AppendPacked(context.Background(), batch); err != nil {
				tb.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// AppendApps appends the log of issue 7's cold start as `gatehouse bench
// seed` writes it: WorkloadEvents/2 apps created through the API, an
// app's name.claimed then its app.created, in atomic appends of
// WorkloadBatch events (one message each). Every event creates a document.
func AppendApps(tb testing.TB, log events.Log) {
	tb.Helper()
	var a events.Append
	for i := range WorkloadEvents / 2 {
		appseed.AddApp(&a, i, workloadT0.Add(time.Duration(i)*time.Millisecond))
		if len(a.Events) == WorkloadBatch {
			if _, err := log.Append(context.Background(), a); err != nil {
				tb.Fatal(err)
			}
			a = events.Append{}
		}
	}
}

package events_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
)

func minted(tenant string, i int) events.Event {
	return events.MustNew(events.Ref{Tenant: tenant, Type: events.AggToken, ID: "app_1"}, events.System, time.Now(),
		&events.TokenMinted{JTI: fmt.Sprintf("%s-%d", tenant, i), AppID: "app_1", ClientID: "cl_1", Subject: "cl_1", GrantType: "client_credentials", ExpiresAt: time.Now()})
}

func TestScanReadsOneTenant(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	ctx := context.Background()
	var wantA []string
	for i := range 10 {
		for _, tenant := range []string{"a", "b"} {
			e := minted(tenant, i)
			if _, err := log.Append(ctx, events.Append{Events: []events.Event{e}}); err != nil {
				t.Fatal(err)
			}
			if tenant == "a" {
				wantA = append(wantA, e.ID)
			}
		}
	}
	// A packed message mixing both tenants: a's events of it come whole.
	packed := []events.Event{minted("b", 100), minted("a", 100), minted("b", 101), minted("a", 101)}
	if _, err := log.AppendPacked(ctx, packed); err != nil {
		t.Fatal(err)
	}
	wantA = append(wantA, packed[1].ID, packed[3].ID)
	tail := minted("a", 200)
	if _, err := log.Append(ctx, events.Append{Events: []events.Event{tail}}); err != nil {
		t.Fatal(err)
	}
	wantA = append(wantA, tail.ID)

	// Page by 3 from the start: every event of a, in order, none of b.
	var got []string
	after := uint64(0)
	for range 50 {
		evs, next, err := log.Scan(ctx, events.HighVolume, "a", after, 3, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Tenant() != "a" {
				t.Fatalf("scan of a gave an event of %s", e.Tenant())
			}
			got = append(got, e.ID)
		}
		if len(evs) == 0 {
			if next != after {
				t.Errorf("an empty page moved next from %d to %d", after, next)
			}
			break
		}
		after = next
	}
	if fmt.Sprint(got) != fmt.Sprint(wantA) {
		t.Errorf("scan of a gave\n %v\nwant\n %v", got, wantA)
	}
	// maxScan bounds the messages looked at: a page may be short.
	evs, next, err := log.Scan(ctx, events.HighVolume, "b", 0, 100, 2)
	if err != nil || len(evs) != 2 || next == 0 {
		t.Errorf("scan with maxScan 2: %d events, next %d, %v", len(evs), next, err)
	}
	if _, _, err := log.Scan(ctx, events.HighVolume, "a.b", 0, 1, 1); err == nil {
		t.Error("a tenant that is not a subject token was accepted")
	}
	if evs, _, err := log.Scan(ctx, events.Control, "a", 0, 10, 10); err != nil || len(evs) != 0 {
		t.Errorf("scan of an empty stream: %d events, %v", len(evs), err)
	}
}

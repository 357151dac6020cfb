package projections_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// FuzzCursor: a list cursor decodes only to a position EncodeCursor can
// make, and every position round-trips.
func FuzzCursor(f *testing.F) {
	for _, s := range []string{projections.EncodeCursor("2025-01-01T00:00:00Z", "app_1"), projections.EncodeCursor("", "x"), "", "AQ", "AQA", "!!", "AYGAgIAQ"} {
		f.Add(s, "sort", "id")
	}
	f.Fuzz(func(t *testing.T, c, sort, id string) {
		if id != "" {
			s, i, err := projections.DecodeCursor(projections.EncodeCursor(sort, id))
			if err != nil || s != sort || i != id {
				t.Fatalf("(%q, %q) round-trips to (%q, %q, %v)", sort, id, s, i, err)
			}
		}
		s, i, err := projections.DecodeCursor(c)
		if err != nil {
			return
		}
		if i == "" {
			t.Fatalf("%q decodes to an empty id", c)
		}
		if s2, i2, err := projections.DecodeCursor(projections.EncodeCursor(s, i)); err != nil || s2 != s || i2 != i {
			t.Fatalf("%q: (%q, %q) does not round-trip", c, s, i)
		}
	})
}

// FuzzApplyEvent: applying any event of a known type with any payload to
// the memory store never panics: an event the log holds cannot crash the
// projector (it fails with an error, or applies).
func FuzzApplyEvent(f *testing.F) {
	files, _ := filepath.Glob("../events/testdata/golden/*.json")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(strings.TrimSuffix(filepath.Base(file), ".json"), 1, data)
	}
	f.Add("app.updated", 1, []byte(`{"name":null,"grant_types":null}`))
	f.Add("event.published", 0, []byte(`{}`))
	f.Fuzz(func(t *testing.T, typ string, schema int, data []byte) {
		if !json.Valid(data) {
			return // the log holds what json.Marshal made
		}
		store := memory.New()
		ctx := context.Background()
		created := events.MustNew(events.Ref{Tenant: "default", Type: events.AggApp, ID: "app_1"}, events.System, time.Unix(1_800_000_000, 0),
			&events.AppCreated{AppSettings: events.AppSettings{ClientID: "cl_1", Name: "one", Active: true}, Scopes: []events.ScopeGrant{{Scope: "a:b", Status: "pending"}}})
		created.Stream, created.Seq = events.Control, 1
		if err := store.Update(ctx, events.Control, 1, func(tx projections.Tx) error { return projections.Apply(tx, created) }); err != nil {
			t.Fatal(err)
		}
		e := events.Event{ID: "evt_2", Type: typ, Schema: schema, Aggregate: events.Ref{Tenant: "default", Type: events.AggApp, ID: "app_1"},
			Actor: events.System, Time: time.Unix(1_800_000_001, 0), Data: data, Stream: events.Control, Seq: 2}
		_ = store.Update(ctx, events.Control, 2, func(tx projections.Tx) error { return projections.Apply(tx, e) })
	})
}

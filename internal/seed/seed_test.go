package seed_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/seed"
)

// TestAddApp: each app is its name's claim then its app.created, in the
// seed tenant, each appended expecting a new aggregate, with ids and
// names of its own.
func TestAddApp(t *testing.T) {
	var a events.Append
	at := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	seed.AddApp(&a, 1, at)
	seed.AddApp(&a, 2, at)
	if len(a.Events) != 4 || len(a.Expect) != 4 {
		t.Fatalf("%d events, %d expects, want 4 and 4", len(a.Events), len(a.Expect))
	}
	for i, want := range []string{"name.claimed", "app.created", "name.claimed", "app.created"} {
		e := a.Events[i]
		if e.Type != want || e.Aggregate.Tenant != seed.Tenant || a.Expect[i].Ref != e.Aggregate || a.Expect[i].Seq != 0 || !e.Time.Equal(at) {
			t.Errorf("event %d: %s %+v at %v, expect %+v; want %s in %s, expected new", i, e.Type, e.Aggregate, e.Time, a.Expect[i], want, seed.Tenant)
		}
	}
	var created events.AppCreated
	if err := json.Unmarshal(a.Events[3].Data, &created); err != nil {
		t.Fatal(err)
	}
	if a.Events[3].Aggregate.ID != "app_seed0000002" || created.ClientID != "cl_seed0000002" || created.Name != "seeded app 2" || !created.Active {
		t.Errorf("app 2: %s %+v", a.Events[3].Aggregate.ID, created.AppSettings)
	}
}

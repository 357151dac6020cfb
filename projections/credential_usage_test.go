package projections_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// TestCredentialUsageSummary: credential.used counters (per credential,
// app, minute and instance) add up per app and minute across instances;
// the last use is the newest minute with a request or an exchange (a
// minute of refusals only is not a use); minutes older than the window
// before the newest are dropped; another tenant reads nothing; the
// summary expires a window after its last minute, and credential.deleted
// drops it.
func TestCredentialUsageSummary(t *testing.T) {
	a := newApplier(t)
	ctx := t.Context()
	m0 := t0.Truncate(time.Minute)
	used := func(ms int, cred, app, inst string, minute time.Time, req, failed, exch int64) {
		t.Helper()
		a.apply(ev("t1", events.AggCredentialUsage, cred+"/"+app+"/"+inst+"/"+minute.Format("1504"), ms, &events.CredentialUsed{
			CredentialID: cred, AppID: app, Minute: minute, Instance: inst, Requests: req, Failed: failed, Exchanges: exch}))
	}
	get := func(tenant, cred string) projections.CredentialUsage {
		t.Helper()
		u, err := projections.GetCredentialUsage(ctx, a.s, tenant, cred)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	if u := get("t1", "cred_1"); u.LastUsedAt != nil || len(u.Minutes) != 0 {
		t.Fatalf("before any use: %+v", u)
	}
	used(60_000, "cred_1", "app_a", "i1", m0, 10, 1, 0)
	used(60_010, "cred_1", "app_a", "i2", m0, 5, 0, 2)
	used(60_020, "cred_1", "app_b", "i1", m0, 3, 0, 0)
	used(120_000, "cred_1", "app_b", "i1", m0.Add(time.Minute), 0, 4, 0) // refusals only
	u := get("t1", "cred_1")
	if u.LastUsedAt == nil || !u.LastUsedAt.Equal(m0) {
		t.Fatalf("last used %v, want %v", u.LastUsedAt, m0)
	}
	got := u.Since(m0)
	want := []projections.AppUsage{{AppID: "app_a", Requests: 15, Failed: 1, Exchanges: 2}, {AppID: "app_b", Requests: 3, Failed: 4}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("since %v: %+v, want %+v", m0, got, want)
	}
	if got := u.Since(m0.Add(time.Minute)); len(got) != 1 || got[0] != (projections.AppUsage{AppID: "app_b", Failed: 4}) {
		t.Fatalf("since the second minute: %+v", got)
	}
	if u := get("t2", "cred_1"); u.LastUsedAt != nil || len(u.Minutes) != 0 {
		t.Fatalf("another tenant reads %+v", u)
	}

	// A use a window and more later: the first minutes leave the summary.
	later := m0.Add(projections.UsageWindow + 2*time.Minute)
	used(int(later.Sub(t0)/time.Millisecond), "cred_1", "app_a", "i1", later, 1, 0, 0)
	u = get("t1", "cred_1")
	if !u.LastUsedAt.Equal(later) || len(u.Minutes) != 1 || u.Minutes[0].Requests != 1 {
		t.Fatalf("after the window: %+v", u)
	}

	// Unused for a window: the summary expires (the log's clock moved by
	// another credential's counter).
	used(int(later.Sub(t0)/time.Millisecond), "cred_2", "app_a", "i1", later, 1, 0, 0)
	end := later.Add(projections.UsageWindow + 3*time.Minute)
	used(int(end.Sub(t0)/time.Millisecond), "cred_3", "app_a", "i1", end, 1, 0, 0)
	if u := get("t1", "cred_1"); u.LastUsedAt != nil || len(u.Minutes) != 0 {
		t.Fatalf("expired summary still read: %+v", u)
	}

	// credential.deleted drops it.
	a.apply(ev("t1", events.AggCredential, "cred_3", 0, &events.CredentialCreated{Name: "crm", Provider: "custom", GrantType: "client_credentials",
		ClientID: "cid", TokenURL: "https://idp.example/token", ScopeSeparator: " ", RefreshBeforeSeconds: 300, ClientSecretSealed: "v1:s"}))
	a.apply(ev("t1", events.AggCredential, "cred_3", 10, &events.CredentialDeleted{Name: "crm"}))
	if u := get("t1", "cred_3"); u.LastUsedAt != nil {
		t.Fatalf("a deleted credential's summary still read: %+v", u)
	}
}

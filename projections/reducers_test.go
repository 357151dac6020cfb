package projections_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// applier applies events to a memory store, one Update each, numbering
// them as the control stream would.
type applier struct {
	t   *testing.T
	s   *memory.Store
	seq uint64
}

func newApplier(t *testing.T) *applier { return &applier{t: t, s: memory.New()} }

// try applies e and returns the error; a failed event takes no sequence.
func (a *applier) try(e events.Event) error {
	e.Stream, e.Seq = events.Control, a.seq+1
	err := a.s.Update(a.t.Context(), events.Control, e.Seq, func(tx projections.Tx) error { return projections.Apply(tx, e) })
	if err == nil {
		a.seq++
	}
	return err
}

// apply applies evs and fails the test on error.
func (a *applier) apply(evs ...events.Event) {
	a.t.Helper()
	for _, e := range evs {
		if err := a.try(e); err != nil {
			a.t.Fatalf("apply %s: %v", e.Type, err)
		}
	}
}

func TestTenantCreated(t *testing.T) {
	a := newApplier(t)
	a.apply(ev("acme", events.AggTenant, "acme", 1, &events.TenantCreated{Name: "Acme", AdminAppID: "app_adm"}))
	want := projections.Tenant{ID: "acme", Name: "Acme", AdminAppID: "app_adm", CreatedAt: t0.Add(time.Millisecond), CreatedBy: "app_actor", Version: 1, LastSeq: 1}
	for _, get := range []func() (projections.Tenant, error){
		func() (projections.Tenant, error) { return projections.GetTenant(t.Context(), a.s, "acme") },
		func() (projections.Tenant, error) { return projections.TenantByName(t.Context(), a.s, "ACME") },
	} {
		if got, err := get(); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("tenant = %+v, %v; want %+v", got, err, want)
		}
	}
	// A second tenant with the name (a race the log let through) exists
	// but the name stays with the first; a second creation is an error.
	a.apply(ev("other", events.AggTenant, "other", 2, &events.TenantCreated{Name: "acme"}))
	if got, _ := projections.TenantByName(t.Context(), a.s, "acme"); got.ID != "acme" {
		t.Fatalf("name went to %q", got.ID)
	}
	if err := a.try(ev("acme", events.AggTenant, "acme", 3, &events.TenantCreated{Name: "x"})); err == nil {
		t.Fatal("a second tenant.created of one tenant applied")
	}
	_, err := projections.TenantByName(t.Context(), a.s, "nobody")
	wantIs(t, err, projections.ErrNotFound)
}

func TestSystemBootstrapped(t *testing.T) {
	a := newApplier(t)
	if ok, err := projections.Bootstrapped(t.Context(), a.s); ok || err != nil {
		t.Fatalf("fresh store: bootstrapped %v, %v", ok, err)
	}
	a.apply(ev("system", events.AggSystem, "bootstrap", 1, &events.SystemBootstrapped{Tenant: "default", AdminAppID: "app_1"}))
	a.apply(ev("system", events.AggSystem, "bootstrap", 2, &events.SystemBootstrapped{Tenant: "second", AdminAppID: "app_2"}))
	if ok, err := projections.Bootstrapped(t.Context(), a.s); !ok || err != nil {
		t.Fatalf("bootstrapped %v, %v", ok, err)
	}
	b, err := projections.GetBootstrap(t.Context(), a.s)
	want := projections.Bootstrap{Tenant: "default", AdminAppID: "app_1", At: t0.Add(time.Millisecond), Seq: 1}
	if err != nil || b != want {
		t.Fatalf("bootstrap = %+v, %v; want the first, %+v", b, err, want)
	}
}

func TestAppCreated(t *testing.T) {
	a := newApplier(t)
	a.apply(appCreated("t1", "app_1", "Billing", "cid_1", 7))
	at := t0.Add(7 * time.Millisecond)
	want := projections.App{
		ID: "app_1", Tenant: "t1", AppSettings: events.AppSettings{ClientID: "cid_1", Name: "Billing",
			GrantTypes: []string{"client_credentials"}, RedirectURIs: []string{},
			TokenEndpointAuthMethod: "client_secret_basic", Active: true, AccessTokenTTLSeconds: 3600},
		Metadata:  json.RawMessage(`{"team":"x"}`),
		Scopes:    []projections.AppScope{{Scope: "a:read", Status: "approved"}, {Scope: "b:write", Status: "pending"}},
		Secrets:   []projections.AppSecret{{ID: "sec_app_1", Hash: "hmac:app_1", CreatedAt: at, HeldBy: "app_actor"}},
		CreatedAt: at, UpdatedAt: at, CreatedBy: "app_actor", Version: 1, LastSeq: 1,
	}
	for name, get := range map[string]func() (projections.App, error){
		"GetApp":        func() (projections.App, error) { return projections.GetApp(t.Context(), a.s, "t1", "app_1") },
		"AppByClientID": func() (projections.App, error) { return projections.AppByClientID(t.Context(), a.s, "cid_1") },
		"AppByName":     func() (projections.App, error) { return projections.AppByName(t.Context(), a.s, "t1", "billing") },
	} {
		if got, err := get(); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s = %+v, %v\nwant %+v", name, got, err, want)
		}
	}
	if !want.ScopeApproved("a:read") || want.ScopeApproved("b:write") || want.ScopeApproved("c") {
		t.Fatal("ScopeApproved is wrong")
	}
	_, err := projections.GetApp(t.Context(), a.s, "t2", "app_1")
	wantIs(t, err, projections.ErrNotFound) // another tenant's app is not found
	_, err = projections.AppByName(t.Context(), a.s, "t2", "billing")
	wantIs(t, err, projections.ErrNotFound)
	wantSnakeCase(t, a.s)
}

func TestAppCreatedErrors(t *testing.T) {
	a := newApplier(t)
	a.apply(appCreated("t1", "app_1", "one", "cid_1", 1))
	err := a.try(appCreated("t1", "app_1", "again", "cid_x", 2))
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("a second app.created of one app: %v", err)
	}
	wantIs(t, a.try(appCreated("t1", "app_2", "two", "cid_1", 3)), projections.ErrKeyConflict)
	bad := appCreated("t1", "app_3", "three", "cid_3", 4)
	bad.Data = json.RawMessage(`{"name": 5}`)
	if a.try(bad) == nil {
		t.Fatal("an undecodable app.created applied")
	}
	// A name the log let through twice stays with the first app.
	a.apply(appCreated("t1", "app_4", "ONE", "cid_4", 5))
	if got, _ := projections.AppByName(t.Context(), a.s, "t1", "one"); got.ID != "app_1" {
		t.Fatalf("name one went to %q", got.ID)
	}
}

// wantSnakeCase fails unless every key of every stored body is snake_case.
func wantSnakeCase(t *testing.T, s *memory.Store) {
	t.Helper()
	key := regexp.MustCompile(`"([^"]+)":`)
	for _, d := range s.Docs() {
		for _, m := range key.FindAllStringSubmatch(string(d.Body), -1) {
			if m[1] != strings.ToLower(m[1]) || strings.Contains(m[1], "-") {
				t.Fatalf("%s body has key %q", d.Kind, m[1])
			}
		}
	}
}

func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

package projections_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// TestCredentialLifecycle applies the vault's events and checks the
// document and the refresh schedule after each: versions kept (the newest
// CredentialVersionsKept), the current one, the claim's lapse as the due
// time, back-off after a failure, the derived statuses, rollback, revoked
// leaving the schedule, and credential.deleted dropping both.
func TestCredentialLifecycle(t *testing.T) {
	a := newApplier(t)
	ctx := t.Context()
	a.apply(ev("t1", events.AggCredential, "cred_1", 0, &events.CredentialCreated{Name: "crm", Provider: "custom", GrantType: "client_credentials",
		ClientID: "cid", TokenURL: "https://idp.example/token", ScopeSeparator: " ", RefreshBeforeSeconds: 300, ClientSecretSealed: "v1:s"}))
	get := func() projections.Credential {
		t.Helper()
		c, err := projections.GetCredential(ctx, a.s, "t1", "cred_1")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := get(); c.Status != events.CredentialStatusPending || c.Version != 1 || c.Name != "crm" || len(c.Versions) != 0 {
		t.Fatalf("created %+v", c)
	}
	if _, err := projections.GetCredential(ctx, a.s, "t2", "cred_1"); err == nil {
		t.Fatal("another tenant reads the credential")
	}
	if _, ok, _ := projections.NextCredentialDue(ctx, a.s); ok {
		t.Fatal("a credential without tokens is scheduled")
	}
	for v := 1; v <= projections.CredentialVersionsKept+2; v++ {
		exp := t0.Add(time.Duration(v) * time.Hour)
		at := exp.Add(-5 * time.Minute)
		a.apply(ev("t1", events.AggCredential, "cred_1", 10*v, &events.CredentialRefreshClaimed{Instance: "i1", Until: t0.Add(time.Minute)}))
		if due, ok, _ := projections.NextCredentialDue(ctx, a.s); !ok || !due.Equal(t0.Add(time.Minute)) {
			t.Fatalf("claimed: due %v %v, want the claim's end", due, ok)
		}
		a.apply(ev("t1", events.AggCredential, "cred_1", 10*v+1, &events.CredentialTokensStored{Version: v, Reason: "refreshed", ExpiresAt: &exp, RefreshAt: &at, TokensSealed: "v1:t"}))
		if due, ok, _ := projections.NextCredentialDue(ctx, a.s); !ok || !due.Equal(at) {
			t.Fatalf("stored v%d: due %v %v, want %v", v, due, ok, at)
		}
	}
	c := get()
	last := projections.CredentialVersionsKept + 2
	if len(c.Versions) != projections.CredentialVersionsKept || c.Versions[0].Version != 3 || c.Current != last || c.LastVersion != last ||
		c.RefreshAttempts != last || c.Status != events.CredentialStatusActive || c.Version != uint64(1+last) {
		t.Fatalf("after %d token sets: current %d, kept %d from v%d, attempts %d, version %d", last, c.Current, len(c.Versions), c.Versions[0].Version, c.RefreshAttempts, c.Version)
	}
	exp := *c.ExpiresAt()
	if s := c.StatusAt(exp.Add(-time.Hour)); s != events.CredentialStatusActive {
		t.Fatalf("an hour before expiry: %s", s)
	}
	if s := c.StatusAt(exp.Add(-time.Minute)); s != events.CredentialStatusExpiringSoon {
		t.Fatalf("a minute before expiry: %s", s)
	}
	if s := c.StatusAt(exp); s != events.CredentialStatusExpired {
		t.Fatalf("at expiry: %s", s)
	}
	if due, _ := projections.DueCredentials(ctx, a.s, exp, 10); len(due) != 1 || due[0].ID != "cred_1" || due[0].Tenant != "t1" {
		t.Fatalf("due at expiry: %+v", due)
	}

	next := t0.Add(time.Hour)
	a.apply(ev("t1", events.AggCredential, "cred_1", 500, &events.CredentialRefreshFailed{Attempt: 1, Error: "temporarily_unavailable", NextAttemptAt: &next}))
	if c := get(); c.ConsecutiveFailures != 1 || c.LastError != "temporarily_unavailable" || !c.NextRefreshAt.Equal(next) {
		t.Fatalf("failed once: %+v", c)
	}
	a.apply(ev("t1", events.AggCredential, "cred_1", 510, &events.CredentialRolledBack{Version: 5}))
	if c := get(); c.Current != 5 || c.ConsecutiveFailures != 0 {
		t.Fatalf("rolled back: current %d", c.Current)
	}
	a.apply(ev("t1", events.AggCredential, "cred_1", 520, &events.CredentialRevoked{Error: "invalid_grant"}))
	if c := get(); c.Status != events.CredentialStatusRevoked || c.NextRefreshAt != nil || c.StatusAt(t0) != events.CredentialStatusRevoked {
		t.Fatalf("revoked: %+v", c)
	}
	if _, ok, _ := projections.NextCredentialDue(ctx, a.s); ok {
		t.Fatal("a revoked credential is scheduled")
	}
	a.apply(ev("t1", events.AggCredential, "cred_1", 530, &events.CredentialDeleted{Name: "crm"}))
	if _, err := projections.GetCredential(ctx, a.s, "t1", "cred_1"); err == nil {
		t.Fatal("deleted credential still read")
	}
}

// TestCredentialByNameAnyCase: names are unique whatever their case
// (events.NameRef), so a credential is found by its name in any case,
// the tenant's among the tenant's and a user's own among that user's; a
// document an earlier build keyed by the name as written (a PostgreSQL
// projection not rebuilt since) is still found by that name.
func TestCredentialByNameAnyCase(t *testing.T) {
	a := newApplier(t)
	ctx := t.Context()
	created := func(id, name, owner string) {
		a.apply(ev("t1", events.AggCredential, id, 0, &events.CredentialCreated{Name: name, Provider: "custom", GrantType: "client_credentials",
			ClientID: "cid", TokenURL: "https://idp.example/token", ScopeSeparator: " ", OwnerUserID: owner}))
	}
	created("cred_1", "CRM Prod", "")
	created("cred_2", "Mine", "u1")
	for _, tc := range []struct {
		tenant, owner, name, want string
	}{
		{"t1", "", "CRM Prod", "cred_1"},
		{"t1", "", "crm prod", "cred_1"},
		{"t1", "", "CRM PROD", "cred_1"},
		{"t2", "", "crm prod", ""},
		{"t1", "u1", "MINE", "cred_2"},
		{"t1", "u1", "mine", "cred_2"},
		{"t1", "", "mine", ""},
		{"t1", "u2", "mine", ""},
	} {
		c, err := projections.CredentialByName(ctx, a.s, tc.tenant, tc.owner, tc.name)
		if tc.want == "" {
			if !errors.Is(err, projections.ErrNotFound) {
				t.Errorf("%s/%s %q: %s, %v; want not found", tc.tenant, tc.owner, tc.name, c.ID, err)
			}
			continue
		}
		if err != nil || c.ID != tc.want {
			t.Errorf("%s/%s %q: %q, %v; want %s", tc.tenant, tc.owner, tc.name, c.ID, err, tc.want)
		}
	}

	// An earlier build's key: the name as written.
	created("cred_3", "Legacy", "")
	a.seq++
	err := a.s.Update(ctx, events.Control, a.seq, func(tx projections.Tx) error {
		d, err := tx.Get(projections.KindCredential, "cred_3")
		if err != nil {
			return err
		}
		d.Keys = []string{"name:t1/Legacy"}
		return tx.Put(d)
	})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := projections.CredentialByName(ctx, a.s, "t1", "", "Legacy"); err != nil || c.ID != "cred_3" {
		t.Errorf("the earlier build's key, as written: %q, %v", c.ID, err)
	}
}

// TestNewCredentialCarriesEveryCreatedField fills every member of
// events.CredentialCreated and checks that NewCredential carries each onto
// the Credential member of the same name, so a member added to the event
// and forgotten here (the projection would not store it, the vault's
// first token request would not see it) fails.
func TestNewCredentialCarriesEveryCreatedField(t *testing.T) {
	var p events.CredentialCreated
	pv := reflect.ValueOf(&p).Elem()
	for i := range pv.NumField() {
		f := pv.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(pv.Type().Field(i).Name + "-value")
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int:
			f.SetInt(int64(100 + i))
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{pv.Type().Field(i).Name}))
		default:
			t.Fatalf("CredentialCreated.%s: kind %s not filled by this test", pv.Type().Field(i).Name, f.Kind())
		}
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := projections.NewCredential("cred_1", "t1", p, at)
	cv := reflect.ValueOf(c)
	for i := range pv.NumField() {
		name := pv.Type().Field(i).Name
		got := cv.FieldByName(name)
		if !got.IsValid() {
			t.Errorf("Credential has no member %s of CredentialCreated", name)
			continue
		}
		if !reflect.DeepEqual(got.Interface(), pv.Field(i).Interface()) {
			t.Errorf("Credential.%s = %v, want %v", name, got.Interface(), pv.Field(i).Interface())
		}
	}
	if c.ID != "cred_1" || c.Tenant != "t1" || !c.CreatedAt.Equal(at) || c.Status != events.CredentialStatusPending ||
		c.Versions == nil || len(c.Versions) != 0 || c.Current != 0 {
		t.Errorf("identity, time or initial state wrong: %+v", c)
	}
	if e := projections.NewCredential("cred_2", "t1", events.CredentialCreated{}, at); e.Scopes == nil || e.Grants == nil {
		t.Errorf("nil scopes or grants are not stored as []: %+v", e)
	}
}

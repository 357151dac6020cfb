package vault

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// authorizeImplicit creates an implicit credential of tenant and stores
// its first token set (an hour long, no refresh token) as the callback
// does.
func (e *refreshEnv) authorizeImplicit(v *Vault, tenant, id string) {
	e.t.Helper()
	evs, err := events.NewAll(events.System, e.clock(), events.Change{Ref: credentialRef(tenant, id), Payload: &events.CredentialCreated{Name: "legacy_" + id,
		Provider: "custom", GrantType: GrantImplicit, ClientID: "cid", Scopes: []string{}, AuthURL: e.url, ScopeSeparator: " ",
		RefreshBeforeSeconds: DefaultRefreshBefore, Grants: []string{}}})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.log.Append(e.t.Context(), events.Append{Events: evs}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.proj.CatchUp(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	rec := projections.CredentialAuth{Tenant: tenant, CredentialAuthStarted: events.CredentialAuthStarted{CredentialID: id, GrantType: GrantImplicit}}
	if _, err := (&API{Vault: v}).storeAuthorized(e.t.Context(), rec, grantAnswer{tokens: tokenSet{AccessToken: "implicit-1"}, tokenType: "Bearer", expiresIn: 3600}); err != nil {
		e.t.Fatal(err)
	}
}

// expiringAlerts counts the credential.expiring events of credential id.
func (e *refreshEnv) expiringAlerts(tenant, id string) int {
	e.t.Helper()
	return len(slices.DeleteFunc(e.types(credentialRef(tenant, id)), func(typ string) bool { return typ != "credential.expiring" }))
}

// TestExpiringAlertImplicit: an implicit credential's token set (no
// refresh token) is not in the refresh schedule (NextRefreshAt nil) but
// has an alert time of its own, its expiry less the refresh lead; when
// it is due, two instances at once append credential.expiring once
// between them, and the state's alert time is cleared; an instance
// taking over after a crash between the alert and the state appends no
// second one; a projection rebuilt from the log (a restart) schedules
// nothing more and alerts no more.
func TestExpiringAlertImplicit(t *testing.T) {
	e := newRefreshEnv(t)
	ctx := t.Context()
	v1, v2 := e.vault("inst_1"), e.vault("inst_2")
	e.authorizeImplicit(v1, "t1", "imp_1")
	c := e.get("t1", "imp_1")
	exp := c.ExpiresAt()
	if c.Status != events.CredentialStatusActive || c.NextRefreshAt != nil || exp == nil || c.ExpiringAlertAt == nil ||
		!c.ExpiringAlertAt.Equal(exp.Add(-DefaultRefreshBefore*time.Second)) {
		t.Fatalf("authorized: status %s next refresh %v expires %v alert at %v", c.Status, c.NextRefreshAt, exp, c.ExpiringAlertAt)
	}
	if due, ok, err := projections.NextCredentialDue(ctx, e.store); err != nil || !ok || !due.Equal(*c.ExpiringAlertAt) {
		t.Fatalf("next due %v %v %v, want the alert at %v", due, ok, err, c.ExpiringAlertAt)
	}
	if err := v1.upkeep(ctx, "t1", "imp_1"); err != nil || e.expiringAlerts("t1", "imp_1") != 0 {
		t.Fatalf("upkeep before the alert is due: %v, %d alerts", err, e.expiringAlerts("t1", "imp_1"))
	}

	// Due: both instances at once.
	e.advance(c.ExpiringAlertAt.Sub(e.clock()) + time.Second)
	if got := e.get("t1", "imp_1").StatusAt(e.clock()); got != events.CredentialStatusExpiringSoon {
		t.Fatalf("status at the alert time %s", got)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, v := range []*Vault{v1, v2} {
		wg.Go(func() { errs[i] = v.upkeep(ctx, "t1", "imp_1") })
	}
	wg.Wait()
	// An instance that reads the credential after the other's alert is
	// applied finds nothing due and answers nil (its refresher then asks
	// Refresh, which answers errNotDue): the two need not overlap.
	upkept := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, errUpkept):
			upkept++
		case err != nil:
			t.Fatalf("upkeep when the alert is due: %v", errs)
		}
	}
	if upkept == 0 {
		t.Fatalf("upkeep when the alert is due: neither instance alerted: %v", errs)
	}
	if n := e.expiringAlerts("t1", "imp_1"); n != 1 {
		t.Fatalf("%d credential.expiring for one token set", n)
	}
	evs, err := e.log.Read(ctx, credentialRef("t1", "imp_1"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := events.Decode(evs[len(evs)-1])
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := p.(*events.CredentialExpiring); !ok || !a.ExpiresAt.Equal(*exp) || a.Version != 1 {
		t.Fatalf("the alert %#v", p)
	}
	c = e.get("t1", "imp_1")
	if c.ExpiringAlertAt != nil || c.ExpiringAlerted != 1 || c.NextRefreshAt != nil {
		t.Fatalf("after the alert: alert at %v alerted %d next refresh %v", c.ExpiringAlertAt, c.ExpiringAlerted, c.NextRefreshAt)
	}
	if due, _, _ := projections.NextCredentialDue(ctx, e.store); !due.Equal(c.RefreshAt.Add(time.Hour)) {
		t.Fatalf("after the alert, due %v, want the snapshot at %v", due, c.RefreshAt.Add(time.Hour))
	}
	if err := v2.upkeep(ctx, "t1", "imp_1"); err != nil || e.expiringAlerts("t1", "imp_1") != 1 {
		t.Fatalf("upkeep after the alert: %v, %d alerts", err, e.expiringAlerts("t1", "imp_1"))
	}

	// A restart: the projection rebuilt from the log holds the same.
	store := memory.New()
	proj, err := projections.New(projections.Config{Log: e.log, Store: store, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := proj.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = proj.Close() }()
	if err := proj.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	rebuilt, err := projections.GetCredential(ctx, store, "t1", "imp_1")
	if err != nil || rebuilt.ExpiringAlertAt != nil || rebuilt.ExpiringAlerted != 1 || rebuilt.Current != 1 {
		t.Fatalf("rebuilt: %+v %v", rebuilt, err)
	}
	v3 := e.vault("inst_3")
	v3.Store, v3.WaitFor, v3.CatchUp = store, proj.WaitFor, proj.CatchUp
	if err := v3.upkeep(ctx, "t1", "imp_1"); err != nil || e.expiringAlerts("t1", "imp_1") != 1 {
		t.Fatalf("upkeep after a restart: %v, %d alerts", err, e.expiringAlerts("t1", "imp_1"))
	}

	// A crash between the alert and the state: the alert is in the log,
	// the state still schedules it. The next instance appends no second
	// alert and clears the schedule.
	e.authorizeImplicit(v1, "t1", "imp_2")
	c = e.get("t1", "imp_2")
	e.advance(c.ExpiringAlertAt.Sub(e.clock()) + time.Second)
	evs, err = events.NewAll(events.System, e.clock(), events.Change{Ref: credentialRef("t1", "imp_2"),
		Payload: &events.CredentialExpiring{ExpiresAt: *c.ExpiresAt(), Version: c.Current}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.log.Append(ctx, events.Append{Events: evs, Expect: []events.Expect{{Ref: credentialRef("t1", "imp_2"), Seq: c.LastSeq}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.proj.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := v2.upkeep(ctx, "t1", "imp_2"); !errors.Is(err, errUpkept) {
		t.Fatalf("upkeep after a crash: %v", err)
	}
	if n := e.expiringAlerts("t1", "imp_2"); n != 1 {
		t.Fatalf("%d credential.expiring after a crash between the alert and the state", n)
	}
	if c = e.get("t1", "imp_2"); c.ExpiringAlertAt != nil {
		t.Fatalf("the alert is still scheduled at %v", c.ExpiringAlertAt)
	}

	// Expired: shown so; a new authorization schedules a new alert.
	e.advance(time.Hour)
	if got := c.StatusAt(e.clock()); got != events.CredentialStatusExpired {
		t.Fatalf("status after expiry %s", got)
	}
	rec := projections.CredentialAuth{Tenant: "t1", CredentialAuthStarted: events.CredentialAuthStarted{CredentialID: "imp_2", GrantType: GrantImplicit}}
	if _, err := (&API{Vault: v1}).storeAuthorized(ctx, rec, grantAnswer{tokens: tokenSet{AccessToken: "implicit-2"}, tokenType: "Bearer", expiresIn: 3600}); err != nil {
		t.Fatal(err)
	}
	if c = e.get("t1", "imp_2"); c.Current != 2 || c.ExpiringAlertAt == nil || !c.ExpiringAlertAt.Equal(c.ExpiresAt().Add(-DefaultRefreshBefore*time.Second)) {
		t.Fatalf("reauthorized: current %d alert at %v", c.Current, c.ExpiringAlertAt)
	}
}

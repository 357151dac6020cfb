package projections_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

func userCreated(tenant, id, email string, ms int) events.Event {
	return ev(tenant, events.AggUser, id, ms, &events.UserCreated{
		Email: email, Name: "N " + id, Roles: []string{events.RoleMember}, PasswordHashSealed: "v1:sealed-" + id,
	})
}

// TestUserLifecycle applies every user event and checks the document after
// each: fields, version, last sequence, the e-mail key (found without
// case), and that user.deleted drops the document and frees the e-mail.
func TestUserLifecycle(t *testing.T) {
	a := newApplier(t)
	a.apply(userCreated("t1", "user_1", "Ada@Example.com", 0))
	want := projections.User{
		ID: "user_1", Tenant: "t1", Email: "Ada@Example.com", Name: "N user_1", Roles: []string{"member"},
		PasswordHashSealed: "v1:sealed-user_1", PasswordChangedAt: t0, CreatedAt: t0, UpdatedAt: t0, Version: 1, LastSeq: 1,
	}
	check := func(stage string) {
		t.Helper()
		got, err := projections.GetUser(t.Context(), a.s, "t1", "user_1")
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %+v, %v\nwant %+v", stage, got, err, want)
		}
		byEmail, err := projections.UserByEmail(t.Context(), a.s, "t1", "ada@EXAMPLE.com")
		if err != nil || byEmail.ID != "user_1" {
			t.Fatalf("%s: by e-mail %+v, %v", stage, byEmail, err)
		}
	}
	check("created")

	name, roles := "Ada King", []string{"admin", "member"}
	a.apply(ev("t1", events.AggUser, "user_1", 10, &events.UserUpdated{Name: &name, Roles: &roles}))
	want.Name, want.Roles, want.Version, want.LastSeq, want.UpdatedAt = name, roles, 2, 2, t0.Add(10*time.Millisecond)
	check("updated")
	if u, _ := projections.GetUser(t.Context(), a.s, "t1", "user_1"); !u.HasRole(events.RoleAdmin) {
		t.Fatal("HasRole(admin) after roles [admin member]")
	}

	a.apply(ev("t1", events.AggUser, "user_1", 20, &events.UserPasswordChanged{PasswordHashSealed: "v1:new"}))
	want.PasswordHashSealed, want.PasswordChangedAt = "v1:new", t0.Add(20*time.Millisecond)
	want.Version, want.LastSeq, want.UpdatedAt = 3, 3, t0.Add(20*time.Millisecond)
	check("password changed")

	a.apply(ev("t1", events.AggUser, "user_1", 30, &events.UserDisabled{}))
	at := t0.Add(30 * time.Millisecond)
	want.Disabled, want.DisabledAt, want.Version, want.LastSeq, want.UpdatedAt = true, &at, 4, 4, at
	check("disabled")

	a.apply(ev("t1", events.AggUser, "user_1", 40, &events.UserEnabled{}))
	want.Disabled, want.Version, want.LastSeq, want.UpdatedAt = false, 5, 5, t0.Add(40*time.Millisecond)
	check("enabled") // DisabledAt stays: the last kill's time

	// Another tenant sees nothing of it.
	_, err := projections.GetUser(t.Context(), a.s, "t2", "user_1")
	wantIs(t, err, projections.ErrNotFound)
	_, err = projections.UserByEmail(t.Context(), a.s, "t2", "ada@example.com")
	wantIs(t, err, projections.ErrNotFound)
	if a.try(ev("t2", events.AggUser, "user_1", 45, &events.UserDisabled{})) == nil {
		t.Fatal("a user.disabled of another tenant applied")
	}

	a.apply(ev("t1", events.AggUser, "user_1", 50, &events.UserDeleted{Email: "Ada@Example.com"}))
	_, err = projections.GetUser(t.Context(), a.s, "t1", "user_1")
	wantIs(t, err, projections.ErrNotFound)
	_, err = projections.UserByEmail(t.Context(), a.s, "t1", "ada@example.com")
	wantIs(t, err, projections.ErrNotFound)
	for _, d := range a.s.Docs() {
		if d.Kind == projections.KindUser {
			t.Fatalf("a deleted user's document is kept: %+v", d)
		}
	}
	wantIs(t, a.try(ev("t1", events.AggUser, "user_1", 60, &events.UserEnabled{})), projections.ErrNotFound)
	a.apply(userCreated("t1", "user_2", "ADA@example.com", 70)) // the e-mail is free again
	if u, _ := projections.UserByEmail(t.Context(), a.s, "t1", "ada@example.com"); u.ID != "user_2" {
		t.Fatalf("e-mail held by %q", u.ID)
	}
	if a.try(userCreated("t1", "user_2", "x@example.com", 80)) == nil {
		t.Fatal("a second user.created for user_2 applied")
	}
}

// TestListUsers: oldest first, one tenant only, across pages; a race the
// log let through (two users with one e-mail) keeps the e-mail with its
// first holder.
func TestListUsers(t *testing.T) {
	a := newApplier(t)
	a.apply(
		userCreated("t1", "user_c", "c@x.io", 100),
		userCreated("t1", "user_a", "a@x.io", 0),
		userCreated("t2", "user_x", "x@x.io", 0),
		userCreated("t1", "user_b", "b@x.io", 100),
		userCreated("t1", "user_d", "A@X.IO", 1000),
	)
	var ids []string
	for p := (projections.Page{Limit: 2}); ; {
		users, next, err := projections.ListUsers(t.Context(), a.s, "t1", p)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			ids = append(ids, u.ID)
		}
		if next == "" {
			break
		}
		p.After = next
	}
	if want := []string{"user_a", "user_b", "user_c", "user_d"}; !slices.Equal(ids, want) {
		t.Fatalf("ListUsers = %v, want %v", ids, want)
	}
	if u, _ := projections.UserByEmail(t.Context(), a.s, "t1", "a@x.io"); u.ID != "user_a" {
		t.Fatalf("a@x.io held by %q", u.ID)
	}
}

// TestUserCreatedTwice: a second user.created of one user is a broken
// log: it fails the apply, and the first user's document stays as it was.
func TestUserCreatedTwice(t *testing.T) {
	a := newApplier(t)
	a.apply(userCreated("t1", "user_1", "ada@example.com", 0))
	before, err := projections.GetUser(t.Context(), a.s, "t1", "user_1")
	if err != nil {
		t.Fatal(err)
	}
	err = a.try(userCreated("t1", "user_1", "grace@example.com", 10))
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("a second user.created of one user: %v", err)
	}
	if after, err := projections.GetUser(t.Context(), a.s, "t1", "user_1"); err != nil || !reflect.DeepEqual(after, before) {
		t.Fatalf("after the refused user.created: %+v, %v; want %+v", after, err, before)
	}
}

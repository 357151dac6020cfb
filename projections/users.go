package projections

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// KindUser is the document kind of a tenant's users (API.md "Users and
// sign-in"), by user id. Key: "email:<tenant>/<lower-case e-mail>". Sort
// is the creation time, so lists are oldest first. A deleted user has no
// document (retention: user.deleted drops it), and its e-mail is free.
const KindUser = "user"

// User is a user as the API shows it, plus what only the server may see:
// the sealed password hash (never answered) and the versions commands
// need.
type User struct {
	ID       string   `json:"id"`
	Tenant   string   `json:"tenant"`
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	Roles    []string `json:"roles"`
	Disabled bool     `json:"disabled"`
	// PasswordHashSealed is the sealed argon2id PHC string (package
	// sealing, purpose password-hash, record the user id). It must never
	// leave the server.
	PasswordHashSealed string `json:"password_hash_sealed"`
	// PasswordChangedAt is when the password was last set.
	PasswordChangedAt time.Time `json:"password_changed_at"`
	// DisabledAt is when the user was last disabled (nil: never): what a
	// session or token issued before it must not outlive.
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	// Version counts the user's events applied so far (1 after
	// user.created): the API's "version" and ETag.
	Version uint64 `json:"version"`
	// LastSeq is the stream sequence of the user's last event: the
	// events.Expect.Seq of its next append.
	LastSeq uint64 `json:"last_seq"`
}

// HasRole reports whether u has role.
func (u User) HasRole(role string) bool { return slices.Contains(u.Roles, role) }

func (u User) clone() User {
	u.Roles = slices.Clone(u.Roles)
	return u
}

var (
	_ = on(func(tx Tx, e events.Event, p *events.UserCreated) error {
		return create(tx, e, KindUser, putUser, User{
			ID: e.Aggregate.ID, Tenant: e.Tenant(), Email: p.Email, Name: p.Name, Roles: orEmpty(p.Roles),
			PasswordHashSealed: p.PasswordHashSealed, PasswordChangedAt: e.Time, CreatedAt: e.Time,
		})
	})
	_ = on(func(tx Tx, e events.Event, p *events.UserUpdated) error {
		return changeUser(tx, e, func(u *User) {
			setIf(&u.Name, p.Name)
			setIf(&u.Roles, p.Roles)
			u.Roles = orEmpty(u.Roles)
		})
	})
	_ = on(func(tx Tx, e events.Event, p *events.UserPasswordChanged) error {
		return changeUser(tx, e, func(u *User) { u.PasswordHashSealed, u.PasswordChangedAt = p.PasswordHashSealed, e.Time })
	})
	_ = on(func(tx Tx, e events.Event, _ *events.UserDisabled) error {
		return changeUser(tx, e, func(u *User) {
			at := e.Time
			u.Disabled, u.DisabledAt = true, &at
		})
	})
	_ = on(func(tx Tx, e events.Event, _ *events.UserEnabled) error {
		return changeUser(tx, e, func(u *User) { u.Disabled = false })
	})
	_ = on(func(tx Tx, e events.Event, _ *events.UserDeleted) error {
		if _, err := loadUser(tx, e); err != nil {
			return err
		}
		if err := tx.Delete(KindConsent, e.Aggregate.ID); err != nil {
			return err
		}
		return tx.Delete(KindUser, e.Aggregate.ID)
	})
)

func changeUser(tx Tx, e events.Event, f func(*User)) error {
	return change(tx, e, loadUser, putUser, f)
}

// loadUser reads the user event e is about (loadView).
func loadUser(tx Tx, e events.Event) (User, error) { return loadView(tx, e, KindUser, User.clone) }

// putUser stores u as of event e, its last. The e-mail key goes to the
// first user that has the e-mail (the claim aggregate keeps two from
// being created; this keeps a broken log from stopping the projection).
func putUser(tx Tx, e events.Event, u User) error {
	u.Version++
	u.LastSeq, u.UpdatedAt = e.Seq, e.Time
	d := Doc{Kind: KindUser, ID: u.ID, Tenant: u.Tenant, Sort: SortTime(u.CreatedAt)}
	if err := claim(tx, &d, userEmailKey(u.Tenant, u.Email)); err != nil {
		return err
	}
	return putCached(tx, d, u)
}

func userEmailKey(tenant, email string) string {
	return "email:" + tenant + "/" + strings.ToLower(email)
}

// GetUser returns the user id of tenant. A user of another tenant is
// ErrNotFound like a missing one, so its existence does not leak.
func GetUser(ctx context.Context, r Reader, tenant, id string) (User, error) {
	return getTenantView(ctx, r, tenant, KindUser, id, User.clone)
}

// UserByEmail returns tenant's user whose e-mail is email (compared
// without case), or ErrNotFound.
func UserByEmail(ctx context.Context, r Reader, tenant, email string) (User, error) {
	u, _, err := lookupCachedView(ctx, r, KindUser, userEmailKey(tenant, email), User.clone)
	return u, err
}

// ListUsers returns a page of tenant's users, oldest first, and the
// cursor of the next page ("" on the last). A bad cursor or limit is
// ErrInvalid.
func ListUsers(ctx context.Context, r Reader, tenant string, p Page) ([]User, string, error) {
	return listViews[User](ctx, r, KindUser, tenant, p)
}

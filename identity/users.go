package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/sealing"
)

// Users serves /v1/platform/users (API.md "Users and sign-in"): commands
// validate, hash a new password outside the command (bounded by Hasher),
// decide on the users projection, append events with the version they
// read on the one command path, wait for the projection and answer from
// it. No answer carries the password or its hash.
type Users struct {
	authz.Deps
	Hasher *Hasher
	// Sealer seals password hashes (purpose sealing.PasswordHash).
	Sealer *sealing.Sealer
	// Gone, when set, is called once a user is disabled or deleted (and
	// again when a disable is repeated, so a retry finishes what an
	// error interrupted): the identity provider revokes the user's
	// grants and tokens (idp.IdP.RevokeUser). Its error is the answer's.
	Gone func(ctx context.Context, tenant, userID string) error
}

// Register adds the users routes under g (/v1/platform).
func (u *Users) Register(g *echo.Group, auth *oauth.Authenticator) {
	g.POST("/users", authz.HandleBody(u.create), auth.Require(scopeWrite), u.Idem.Middleware)
	g.GET("/users", u.list, auth.Require(scopeRead))
	g.GET("/users/:id", authz.Handle(u.get), auth.Require(scopeRead))
	g.PATCH("/users/:id", authz.HandleChange(u.user(), u.patch), auth.Require(scopeWrite))
	g.DELETE("/users/:id", u.delete, auth.Require(scopeWrite))
}

const (
	scopeRead  = "platform:users:read"
	scopeWrite = "platform:users:write"
)

// UserView is the User object of API.md "Users and sign-in" (never a
// password or its hash): what the users routes answer and the console
// shows.
type UserView struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Roles     []string  `json:"roles"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	Version   uint64    `json:"version"`
}

func toJSON(u projections.User) UserView {
	return UserView{ID: u.ID, Email: u.Email, Name: u.Name, Roles: u.Roles, Disabled: u.Disabled, CreatedAt: u.CreatedAt, Version: u.Version}
}

type createRequest struct {
	Email    string    `json:"email"`
	Name     string    `json:"name"`
	Password string    `json:"password"`
	Roles    *[]string `json:"roles"`
}

type patchRequest struct {
	Name     *string   `json:"name"`
	Password *string   `json:"password"`
	Roles    *[]string `json:"roles"`
	Disabled *bool     `json:"disabled"`
}

func (u *Users) create(ctx context.Context, c echo.Context, p oauth.Principal, req createRequest) error {
	var fe []httpapi.FieldError
	email := strings.TrimSpace(req.Email)
	if msg := checkEmail(email); msg != "" {
		fe = append(fe, httpapi.FieldError{Field: "email", Message: msg})
	}
	if req.Roles == nil {
		req.Roles = &[]string{events.RoleMember}
	}
	name, roles, fe := checkFields(fe, email, &req.Name, &req.Password, req.Roles)
	if len(fe) > 0 {
		return httpapi.Validation(fe...)
	}
	if err := mayGiveRoles(p, roles); err != nil {
		return err
	}
	// A taken e-mail is refused before the costly hash; the command
	// checks again on the claim it appends after.
	if claim, err := projections.GetNameClaim(ctx, u.Store, p.Tenant, events.NamespaceUserEmail, email); err != nil {
		return err
	} else if claim.Owner != "" {
		return emailTaken()
	}
	id := events.NewID("user")
	sealed, err := u.sealedHash(ctx, id, req.Password)
	if err != nil {
		return err
	}
	now := u.Now()
	user, err := u.run(ctx, p.Tenant, id, func(ctx context.Context, r projections.Reader) (events.Append, error) {
		claim, err := projections.GetNameClaim(ctx, r, p.Tenant, events.NamespaceUserEmail, email)
		if err != nil {
			return events.Append{}, err
		}
		if claim.Owner != "" {
			return events.Append{}, emailTaken()
		}
		claimed, ref := events.ClaimName(p.Tenant, events.NamespaceUserEmail, email, id), userRef(p.Tenant, id)
		evs, err := events.NewAll(oauth.ActorOf(p), now, claimed,
			events.Change{Ref: ref, Payload: &events.UserCreated{Email: email, Name: name, Roles: roles, PasswordHashSealed: sealed}})
		if err != nil {
			return events.Append{}, err
		}
		return events.Append{Events: evs, Expect: []events.Expect{{Ref: claimed.Ref, Seq: claim.LastSeq}, {Ref: ref}}}, nil
	})
	if err != nil {
		return err
	}
	return authz.Versioned(c, http.StatusCreated, user.Version, toJSON(user))
}

func emailTaken() error {
	return httpapi.Conflict("a user with this e-mail address already exists in this tenant")
}

// sealedHash hashes password (within the Hasher's bound: 503 when no
// slot frees in time) and seals the PHC string for user id.
func (u *Users) sealedHash(ctx context.Context, id, password string) (string, error) {
	phc, err := u.Hasher.Hash(ctx, password)
	if errors.Is(err, ErrBusy) {
		return "", httpapi.Unavailable(time.Second, err)
	}
	if err != nil {
		return "", err
	}
	return u.Sealer.Seal(id, []byte(phc))
}

// run decides on the command path and answers the user as the
// projection has it afterwards (zero once deleted).
func (u *Users) run(ctx context.Context, tenant, id string, decide func(context.Context, projections.Reader) (events.Append, error)) (projections.User, error) {
	return authz.Decided(ctx, u.Deps, func(ctx context.Context) (events.Append, error) {
		return decide(ctx, u.Store)
	}, func(ctx context.Context) (projections.User, error) {
		return projections.GetUser(ctx, u.Store, tenant, id)
	})
}

func (u *Users) list(c echo.Context) error {
	tenant := oauth.PrincipalOf(c).Tenant
	return authz.ListPage(c, func(ctx context.Context, pg projections.Page) ([]projections.User, string, error) {
		return projections.ListUsers(ctx, u.Store, tenant, pg)
	}, toJSON)
}

func (u *Users) get(ctx context.Context, c echo.Context, p oauth.Principal) error {
	user, err := u.user().Load(ctx, p.Tenant, c.Param("id"))
	if err != nil {
		return err
	}
	return authz.Versioned(c, http.StatusOK, user.Version, toJSON(user))
}

// user reads the user a request names; a change of it needs
// mayManageUser (the command checks again on the state it decides on:
// current).
func (u *Users) user() authz.Resource[projections.User] {
	return authz.Resource[projections.User]{What: "user", CatchUp: u.CatchUp, May: mayManageUser,
		Get: func(ctx context.Context, tenant, id string) (projections.User, error) {
			return projections.GetUser(ctx, u.Store, tenant, id)
		}}
}

// current reads the user a command changes, as of this attempt, and
// checks If-Match and the caller's authority on it.
func current(ctx context.Context, r projections.Reader, p oauth.Principal, id string, match uint64) (projections.User, error) {
	user, err := authz.Current(ctx, "user", func(ctx context.Context) (projections.User, error) {
		return projections.GetUser(ctx, r, p.Tenant, id)
	}, func(u projections.User) uint64 { return u.Version }, match)
	if err != nil {
		return user, err
	}
	return user, mayManageUser(p, user)
}

func (u *Users) patch(ctx context.Context, c echo.Context, p oauth.Principal, cur projections.User, req patchRequest) error {
	name, roles, fe := checkFields(nil, cur.Email, req.Name, req.Password, req.Roles)
	if len(fe) > 0 {
		return httpapi.Validation(fe...)
	}
	if roles != nil {
		if err := mayGiveRoles(p, roles); err != nil {
			return err
		}
	}
	match, err := authz.IfMatch(c, cur.Version)
	if err != nil {
		return err
	}
	var sealed string
	if req.Password != nil {
		if sealed, err = u.sealedHash(ctx, cur.ID, *req.Password); err != nil {
			return err
		}
	}
	now := u.Now()
	user, err := u.run(ctx, p.Tenant, cur.ID, func(ctx context.Context, r projections.Reader) (events.Append, error) {
		user, err := current(ctx, r, p, cur.ID, match)
		if err != nil {
			return events.Append{}, err
		}
		ref := userRef(p.Tenant, user.ID)
		var pairs []events.Change
		upd := &events.UserUpdated{}
		if req.Name != nil && name != user.Name {
			upd.Name = &name
		}
		if roles != nil && !slices.Equal(roles, user.Roles) {
			upd.Roles = &roles
		}
		if upd.Name != nil || upd.Roles != nil {
			pairs = append(pairs, events.Change{Ref: ref, Payload: upd})
		}
		if sealed != "" {
			pairs = append(pairs, events.Change{Ref: ref, Payload: &events.UserPasswordChanged{PasswordHashSealed: sealed}})
		}
		if req.Disabled != nil && *req.Disabled != user.Disabled {
			if *req.Disabled {
				pairs = append(pairs, events.Change{Ref: ref, Payload: &events.UserDisabled{}})
			} else {
				pairs = append(pairs, events.Change{Ref: ref, Payload: &events.UserEnabled{}})
			}
		}
		if len(pairs) == 0 {
			return events.Append{}, nil
		}
		evs, err := events.NewAll(oauth.ActorOf(p), now, pairs...)
		if err != nil {
			return events.Append{}, err
		}
		return events.Append{Events: evs, Expect: []events.Expect{{Ref: ref, Seq: user.LastSeq}}}, nil
	})
	if err != nil {
		return err
	}
	if req.Disabled != nil && *req.Disabled && user.Disabled && u.Gone != nil {
		if err := u.Gone(ctx, p.Tenant, user.ID); err != nil {
			return err
		}
	}
	return authz.Versioned(c, http.StatusOK, user.Version, toJSON(user))
}

// delete removes the user (authz.Remove; the caller must be allowed to
// manage it, mayManageUser), then ends its grants (Gone).
func (u *Users) delete(c echo.Context) error {
	p, id := oauth.PrincipalOf(c), c.Param("id")
	return authz.Remove(c, authz.Removal[projections.User]{What: "user", CatchUp: u.CatchUp, Deps: u.Command(), Now: u.Now(),
		Get: func(ctx context.Context) (projections.User, error) {
			user, err := projections.GetUser(ctx, u.Store, p.Tenant, id)
			if err != nil {
				return user, err
			}
			return user, mayManageUser(p, user)
		},
		Version: func(user projections.User) uint64 { return user.Version },
		Decide: func(_ context.Context, user projections.User) ([]events.Change, []events.Expect, error) {
			ref := userRef(p.Tenant, user.ID)
			return []events.Change{
				{Ref: ref, Payload: &events.UserDeleted{Email: user.Email}},
				events.ReleaseName(p.Tenant, events.NamespaceUserEmail, user.Email, user.ID),
			}, []events.Expect{{Ref: ref, Seq: user.LastSeq}}, nil
		},
		After: func(ctx context.Context, user projections.User) error {
			if u.Gone == nil {
				return nil
			}
			return u.Gone(ctx, p.Tenant, user.ID)
		},
	})
}

// mayGiveRoles: the admin role gives a user's tokens the tenant-admin
// scopes, so only a caller holding every one of them may give it
// (authority never grows by indirection, invariant 7).
func mayGiveRoles(p oauth.Principal, roles []string) error {
	if !slices.Contains(roles, events.RoleAdmin) {
		return nil
	}
	return adminScopes(p, "giving a user the admin role")
}

// mayManageUser: changing or deleting an admin user (its password above
// all) hands out what the admin role carries, so it needs the same
// scopes as giving the role.
func mayManageUser(p oauth.Principal, u projections.User) error {
	if !u.HasRole(events.RoleAdmin) {
		return nil
	}
	return adminScopes(p, "managing an admin user")
}

// adminScopes refuses what the caller is doing (403) unless its token
// holds every tenant-admin scope.
func adminScopes(p oauth.Principal, doing string) error {
	var missing []string
	for _, s := range authz.TenantAdminScopes() {
		if !p.Has(s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return httpapi.Forbidden(fmt.Sprintf("%s needs the tenant-admin scopes; the caller's token lacks %s", doing, strings.Join(missing, ", ")))
	}
	return nil
}

// normalizeRoles checks roles (admin, member; at least one) and returns
// them sorted without duplicates.
func normalizeRoles(roles []string) ([]string, string) {
	if len(roles) == 0 {
		return nil, "must name at least one role: admin or member"
	}
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		if r != events.RoleAdmin && r != events.RoleMember {
			return nil, fmt.Sprintf("%q is not a role: admin or member", r)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out, ""
}

// checkFields checks the fields of a user that create and PATCH set (nil:
// not given), adding what is wrong to fe: the name as trimmed, the
// password against the user's email, the roles as normalized.
func checkFields(fe []httpapi.FieldError, email string, name, password *string, roles *[]string) (string, []string, []httpapi.FieldError) {
	var n string
	if name != nil {
		n = strings.TrimSpace(*name)
		if msg := checkName(n); msg != "" {
			fe = append(fe, httpapi.FieldError{Field: "name", Message: msg})
		}
	}
	if password != nil {
		if msg := CheckPassword(*password, email); msg != "" {
			fe = append(fe, httpapi.FieldError{Field: "password", Message: msg})
		}
	}
	var rs []string
	if roles != nil {
		var msg string
		if rs, msg = normalizeRoles(*roles); msg != "" {
			fe = append(fe, httpapi.FieldError{Field: "roles", Message: msg})
		}
	}
	return n, rs, fe
}

// checkEmail: one plain address (no display name), at most 254 bytes.
func checkEmail(email string) string {
	if email == "" {
		return "is required"
	}
	if len(email) > 254 {
		return "must be at most 254 characters long"
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		return "must be an e-mail address such as ada@example.com"
	}
	return ""
}

func checkName(name string) string {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return "is required"
	case n > 200:
		return "must be at most 200 characters long"
	}
	return ""
}

func userRef(tenant, id string) events.Ref {
	return events.Ref{Tenant: tenant, Type: events.AggUser, ID: id}
}

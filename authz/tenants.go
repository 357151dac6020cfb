package authz

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// Tenants serves POST /v1/tenants (API.md "Tenants"): the bootstrap admin
// creates a tenant and, atomically, its admin app holding every platform:*,
// webhooks:* and events:publish scope.
type Tenants struct {
	Log     events.Log
	Store   projections.Reader
	WaitFor func(ctx context.Context, s events.Stream, seq uint64) error
	Hasher  *oauth.SecretHasher
	Now     func() time.Time
	Idem    *Idempotency
	// DefaultTTL is the admin app's access_token_ttl_seconds.
	DefaultTTL int
}

// Register adds the tenant routes.
func (t *Tenants) Register(e *echo.Echo, auth *oauth.Authenticator) {
	e.POST("/v1/tenants", HandleBody(t.create), httpapi.NoStore, auth.Require("system:tenants:write"), t.Idem.Middleware)
}

type createTenantRequest struct {
	Name string `json:"name"`
}

// tenantCreated is the 201 answer; the admin app's secret is shown once.
type tenantCreated struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	CreatedAt time.Time      `json:"created_at"`
	AdminApp  tenantAdminApp `json:"admin_app"`
}

type tenantAdminApp struct {
	ID           string `json:"id"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

const maxTenantName = 100

func (t *Tenants) create(ctx context.Context, c echo.Context, p oauth.Principal, req createTenantRequest) error {
	if msg := checkTenantName(req.Name); msg != "" {
		return httpapi.Validation(httpapi.FieldError{Field: "name", Message: msg})
	}
	if err := mayHandOut(p, tenantAdminScopes()); err != nil {
		return err
	}
	secret := oauth.NewClientSecret()
	spec := newTenantSpec(events.NewID("ten"), req.Name, events.NewID("cl"), t.Hasher.HashString(secret), tenantAdminScopes(), t.DefaultTTL)
	var created time.Time
	_, err := command.Run(ctx, command.Deps{Log: t.Log, WaitFor: t.WaitFor}, func(ctx context.Context, _ int) (command.Decision, error) {
		ap, err := t.decide(ctx, oauth.ActorOf(p), spec)
		if err == nil {
			created = ap.Events[0].Time
		}
		return command.Decision{Append: ap}, err
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, tenantCreated{ID: spec.id, Name: spec.name, CreatedAt: created,
		AdminApp: tenantAdminApp{ID: spec.appID, ClientID: spec.clientID, ClientSecret: secret}})
}

// decide refuses a taken name and builds the tenant's append, expecting
// the name's claim at the version read.
func (t *Tenants) decide(ctx context.Context, actor events.Actor, spec tenantSpec) (events.Append, error) {
	claim, err := projections.GetNameClaim(ctx, t.Store, SystemTenant, nsTenantName, spec.name)
	if err != nil {
		return events.Append{}, err
	}
	if claim.Owner != "" {
		return events.Append{}, httpapi.Conflict(fmt.Sprintf("a tenant named %q already exists", spec.name))
	}
	evs, err := spec.events(actor, t.Now())
	if err != nil {
		return events.Append{}, err
	}
	return events.Append{Events: evs, Expect: []events.Expect{
		{Ref: tenantNameRef(spec.name), Seq: claim.LastSeq},
		{Ref: tenantRef(spec.id)},
	}}, nil
}

// checkTenantName: 1–100 characters, not only spaces, not a reserved name.
func checkTenantName(name string) string {
	switch {
	case strings.TrimSpace(name) == "":
		return "is required"
	case utf8.RuneCountInString(name) > maxTenantName:
		return fmt.Sprintf("must be at most %d characters", maxTenantName)
	case strings.EqualFold(name, SystemTenant):
		return "is reserved"
	}
	return ""
}

package authz

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// Apps serves /v1/platform/apps: commands validate, decide on the apps
// projection, append events with the version they read, wait for the
// projection, and answer from it.
type Apps struct {
	Deps
	Hasher  *oauth.SecretHasher
	Catalog ScopeCatalog
	// DefaultTTL is access_token_ttl_seconds when a new app names none.
	DefaultTTL int
	// IDTokenAlgs are the algorithms an app's id_token_signed_response_alg
	// may name (GATEHOUSE_ID_TOKEN_ALGS).
	IDTokenAlgs []string
	// Tokens mints and revokes service tokens.
	Tokens ServiceTokens
}

// Register adds the apps routes under g.
func (a *Apps) Register(g *echo.Group, auth *oauth.Authenticator) {
	g.POST("/apps", HandleBody(a.create), httpapi.NoStore, auth.Require("platform:apps:write"), a.Idem.Middleware)
	g.GET("/apps", a.list, auth.Require(ScopeAppsRead))
	g.GET("/apps/:id", Handle(a.get), auth.Require("platform:apps:read"))
	g.PATCH("/apps/:id", HandleChange(a.app(), a.patch), httpapi.NoStore, auth.Require("platform:apps:write"))
	g.DELETE("/apps/:id", Handle(a.delete), auth.Require("platform:apps:write"))
	g.POST("/apps/:id/scope-requests", Handle(a.requestScopes), auth.Require(""), a.Idem.Middleware)
	g.POST("/apps/:id/scope-decisions", HandleBody(a.decideScope), auth.Require("platform:scopes:approve"), a.Idem.Middleware)
	g.POST("/apps/:id/secrets", HandleChange(a.app(), a.rotateSecret), httpapi.NoStore, auth.Require("platform:apps:write"), a.Idem.Middleware)
	g.DELETE("/apps/:id/secrets/:secret_id", Handle(a.revokeSecret), auth.Require("platform:apps:write"))
	g.POST("/apps/:id/tokens", HandleChange(a.app(), a.mintServiceToken), httpapi.NoStore, auth.Require("platform:apps:write"), a.Idem.Middleware)
	g.DELETE("/apps/:id/tokens/:jti", Handle(a.revokeServiceToken), auth.Require("platform:apps:write"))
}

// createdApp is the 201 answer of create: the App plus its first secret,
// shown this once. Apps of private_key_jwt or none have no secret, so no
// client_secret. PATCH answers with it too when a change of
// token_endpoint_auth_method gave the app its first secret.
type createdApp struct {
	AppView
	ClientSecret string `json:"client_secret,omitempty"`
}

func (a *Apps) create(ctx context.Context, c echo.Context, p oauth.Principal, req createAppRequest) error {
	shape := req.normalize(a.DefaultTTL, a.IDTokenAlgs)
	fe := shape.validate()
	grants, err := a.initialGrants(ctx, p.Tenant, "requested_scopes", req.RequestedScopes, &fe)
	if err != nil {
		return err
	}
	if len(fe) > 0 {
		return httpapi.Validation(fe...)
	}
	secret, hash := a.newSecret(shape.AuthMethod)
	cmd := newAppCommand(p, shape, req, grants, hash, a.Now())
	app, err := a.decide(ctx, cmd.create)
	if err != nil {
		return err
	}
	return Versioned(c, http.StatusCreated, app.Version, createdApp{AppView: toAppJSON(app), ClientSecret: secret})
}

// newSecret returns a new client secret and its keyed hash for an app of
// auth method, or nothing when the method uses no secret (private_key_jwt,
// none).
func (a *Apps) newSecret(method string) (secret, hash string) {
	if !usesSecret(method) {
		return "", ""
	}
	secret = oauth.NewClientSecret()
	return secret, a.Hasher.HashString(secret)
}

// initialGrants checks each requested scope against the catalog and gives
// it its first status: approved when the catalog says no approval is
// needed, pending otherwise. Problems are reported against field.
func (a *Apps) initialGrants(ctx context.Context, tenant, field string, scopes []string, fe *fieldErrs) ([]events.ScopeGrant, error) {
	grants := make([]events.ScopeGrant, 0, len(scopes))
	var unknown, reserved []string
	for _, s := range scopes {
		entry, ok, err := a.Catalog.LookupScope(ctx, tenant, s)
		if err != nil {
			return nil, err
		}
		if !ok {
			unknown = append(unknown, strconv.Quote(s))
			continue
		}
		if catalog.Reserved(s) {
			reserved = append(reserved, strconv.Quote(s))
			continue
		}
		if slices.ContainsFunc(grants, func(g events.ScopeGrant) bool { return g.Scope == s }) {
			continue
		}
		status := events.GrantPending
		if !entry.RequiresApproval && !entry.BuiltIn {
			status = events.GrantApproved
		}
		grants = append(grants, events.ScopeGrant{Scope: s, Status: status})
	}
	var problems []string
	if len(unknown) > 0 {
		problems = append(problems, "unknown scopes, not in the tenant's catalog: "+strings.Join(unknown, ", "))
	}
	if len(reserved) > 0 {
		problems = append(problems, "scopes reserved for the bootstrap admin: "+strings.Join(reserved, ", "))
	}
	if len(problems) > 0 {
		fe.add(field, "%s", strings.Join(problems, "; "))
	}
	return grants, nil
}

// decision is one attempt of a command on an app: it reads what it needs
// and returns the append to make and the id of the app it changes (or
// unchanged, to answer the app as it is).
type decision func(ctx context.Context, r projections.Reader) (events.Append, string, error)

// decide runs d on the command path, then returns the app as the
// projection has it (zero once deleted).
func (a *Apps) decide(ctx context.Context, d decision) (projections.App, error) {
	var tenant, appID string
	var same *projections.App
	return Decided(ctx, a.Deps, func(ctx context.Context) (events.Append, error) {
		same = nil
		ap, id, err := d(ctx, a.Store)
		if u, ok := err.(unchanged); ok {
			same = &u.app
			return events.Append{}, nil
		}
		if err == nil {
			tenant, appID = ap.Events[0].Aggregate.Tenant, id
		}
		return ap, err
	}, func(ctx context.Context) (projections.App, error) {
		if same != nil {
			return *same, nil
		}
		return projections.GetApp(ctx, a.Store, tenant, appID)
	})
}

func (a *Apps) list(c echo.Context) error { return answerPage(c, a.listApps) }

func (a *Apps) get(ctx context.Context, c echo.Context, p oauth.Principal) error {
	app, err := a.app().Load(ctx, p.Tenant, c.Param("id"))
	if err != nil {
		return err
	}
	return Versioned(c, http.StatusOK, app.Version, toAppJSON(app))
}

// app reads the app a request names; its credentials and settings are
// changed by who may manage it (mayManage).
func (a *Apps) app() Resource[projections.App] {
	return Resource[projections.App]{What: "app", CatchUp: a.CatchUp, May: mayManage,
		Get: func(ctx context.Context, tenant, id string) (projections.App, error) {
			return projections.GetApp(ctx, a.Store, tenant, id)
		}}
}

func (a *Apps) patch(ctx context.Context, c echo.Context, p oauth.Principal, cur projections.App, req patchAppRequest) error {
	match, err := ifMatch(c, cur.Version)
	if err != nil {
		return err
	}
	cmd := &patchCommand{p: p, id: cur.ID, req: req, match: match, now: a.Now(), clock: a.Now, idAlgs: a.IDTokenAlgs}
	var secret string
	if req.TokenEndpointAuthMethod != nil {
		secret, cmd.secretHash = a.newSecret(*req.TokenEndpointAuthMethod)
	}
	app, err := a.decide(ctx, cmd.decide)
	if err != nil {
		return err
	}
	if !cmd.issuedSecret {
		secret = ""
	}
	if secret != "" {
		c.Response().Header().Set("Cache-Control", "no-store")
	}
	return Versioned(c, http.StatusOK, app.Version, createdApp{AppView: toAppJSON(app), ClientSecret: secret})
}

func (a *Apps) delete(ctx context.Context, c echo.Context, p oauth.Principal) error {
	cur, err := a.app().Managed(ctx, p, c.Param("id"))
	if err != nil {
		return err
	}
	match, err := ifMatch(c, cur.Version)
	if err != nil {
		return err
	}
	cmd := &deleteCommand{p: p, id: cur.ID, match: match, now: a.Now()}
	if _, err := a.decide(ctx, cmd.decide); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// etag is the ETag of a resource at version v.
func etag(v uint64) string { return `"` + strconv.FormatUint(v, 10) + `"` }

// ifMatch reads If-Match (RFC 9110 section 13.1.1): it returns the
// version the caller expects (0 when the header is absent or "*") or 412
// when none of the entity tags it lists is the current version's. The
// comparison is strong, so a weak tag (W/"2") never matches; a tag may
// come without its quotes.
func ifMatch(c echo.Context, current uint64) (uint64, error) {
	h := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	var named []uint64
	weak := false
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimSpace(tag)
		if strings.HasPrefix(tag, "W/") {
			weak = true // no strong match
			continue
		}
		if len(tag) >= 2 && tag[0] == '"' && tag[len(tag)-1] == '"' {
			tag = tag[1 : len(tag)-1]
		}
		if v, err := strconv.ParseUint(tag, 10, 64); err == nil {
			if v == current {
				return v, nil
			}
			named = append(named, v)
		}
	}
	switch {
	case len(named) == 1 && !weak:
		return 0, httpapi.PreconditionFailed(fmt.Sprintf("the resource is at version %d, not %d", current, named[0]))
	case len(named) > 0 || weak:
		return 0, httpapi.PreconditionFailed(fmt.Sprintf("the resource is at version %d, which If-Match does not name (a weak tag never matches)", current))
	}
	return 0, httpapi.PreconditionFailed("If-Match does not name a version of this resource")
}

// Page is the shape of every list answer (API.md "Conventions").
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// pageParams reads ?limit= (default 50, 1–500) and ?cursor=.
func pageParams(c echo.Context) (projections.Page, error) {
	return pageFromQuery(c.QueryParam("limit"), c.QueryParam("cursor"))
}

// AppView is the App object of API.md "Apps": what GET /v1/platform/apps
// encodes, what the GraphQL transport and the console show.
type AppView struct {
	ID string `json:"id"`
	events.AppSettings
	// Metadata is always sent ({} when the app has none).
	Metadata json.RawMessage `json:"metadata"`
	Scopes   []ScopeView     `json:"scopes"`
	// Grants are the approvals of the grant types that need one
	// (authorization_code), RedirectURIApprovals those of each redirect
	// URI (API.md "Users and sign-in"), shaped like scopes.
	Grants               []GrantView       `json:"grants"`
	RedirectURIApprovals []RedirectURIView `json:"redirect_uri_approvals"`
	Secrets              []SecretView      `json:"secrets"`
	CreatedAt            time.Time         `json:"created_at"`
	UpdatedAt            time.Time         `json:"updated_at"`
	CreatedBy            string            `json:"created_by"`
	Version              uint64            `json:"version"`
}

// ScopeView is where the request of one scope stands.
type ScopeView struct {
	Scope string `json:"scope"`
	ApprovalView
}

// GrantView is where the approval of one grant type stands.
type GrantView struct {
	GrantType string `json:"grant_type"`
	ApprovalView
}

// RedirectURIView is where the approval of one redirect URI stands.
type RedirectURIView struct {
	RedirectURI string `json:"redirect_uri"`
	ApprovalView
}

// ApprovalView is where one approval stands.
type ApprovalView struct {
	Status    events.GrantStatus `json:"status"`
	DecidedBy string             `json:"decided_by,omitempty"`
	DecidedAt *time.Time         `json:"decided_at,omitempty"`
	Reason    string             `json:"reason,omitempty"`
	// Approvals are the admin apps that approved so far (quorum scopes).
	Approvals []string `json:"approvals"`
}

func approvalOf(s projections.AppScope) ApprovalView {
	return ApprovalView{Status: s.Status, DecidedBy: s.DecidedBy, DecidedAt: s.DecidedAt, Reason: s.Reason,
		Approvals: append([]string{}, s.Approvals...)}
}

type SecretView struct {
	ID        string     `json:"id"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

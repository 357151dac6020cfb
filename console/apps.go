package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/catalog"
)

// App is the API's App object as the pages show it.
type App struct {
	authz.AppView
	// ClientSecret is a new app's secret (create), shown once.
	ClientSecret string `json:"client_secret"`
	// Creator names CreatedBy for a person: a user's name and e-mail,
	// an app's name ("" when unknown: the page shows the id).
	Creator string `json:"-"`
	// Decisions are the app's scopes, grant types and redirect URIs as
	// the decision forms show them (loadApp).
	Decisions struct{ Scopes, Grants, RedirectURIs []Approval } `json:"-"`
}

// Approval is where one scope, grant type or redirect URI stands, in a
// decision form.
type Approval struct {
	authz.ApprovalView
	// Required is the quorum (the catalog's approvals_required, the
	// tenant's approval policy); 0 when unknown.
	Required int
	// Kind and Value name it in a decision form.
	Kind, Value string
}

// appsPage lists the tenant's apps, one page of the API's list, or
// searches them by name (the list's pages walked, filtered here).
func (s *Console) appsPage(c echo.Context, p person) error {
	q := strings.TrimSpace(c.QueryParam("q"))
	var apps authz.Page[authz.AppView]
	var err error
	if q == "" {
		apps, err = s.appsList(c, p, 50, c.QueryParam("cursor"))
	} else {
		apps.Items, err = s.searchApps(c, p, q)
	}
	if err != nil {
		return s.readFailed(c, p, err)
	}
	return s.render(c, http.StatusOK, "apps", p, view{Title: "Apps", Nav: "apps", Data: struct {
		Q    string
		Apps authz.Page[authz.AppView]
	}{q, apps}})
}

// searchApps walks the list's pages (500 a page) for names containing q.
func (s *Console) searchApps(c echo.Context, p person, q string) ([]authz.AppView, error) {
	var out []authz.AppView
	cursor, lq := "", strings.ToLower(q)
	for {
		page, err := s.appsList(c, p, 500, cursor)
		if err != nil {
			return nil, err
		}
		for _, app := range page.Items {
			if strings.Contains(strings.ToLower(app.Name), lq) || app.ClientID == q {
				out = append(out, app)
			}
		}
		if page.NextCursor == "" || len(out) >= 200 {
			return out, nil
		}
		cursor = page.NextCursor
	}
}

// orFailed renders an error or a refused answer.
func (s *Console) orFailed(c echo.Context, p person, a answer, err error) error {
	if err != nil {
		return err
	}
	return s.failed(c, p, a)
}

// appForm is what the create form sends back to itself on an error.
type appForm struct {
	Name, GrantTypes, RedirectURIs, Scopes, AuthMethod string
}

func (s *Console) newAppPage(c echo.Context, p person) error {
	return s.render(c, http.StatusOK, "app_new", p, view{Title: "New app", Nav: "apps", Data: appForm{GrantTypes: "client_credentials"}})
}

// lines splits a textarea or a comma list into its entries.
func lines(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == ',' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// createApp posts the form to POST /v1/platform/apps with the form's
// Idempotency-Key; the secret is shown on the answer page, once.
func (s *Console) createApp(c echo.Context, p person) error {
	f := appForm{Name: c.FormValue("name"), GrantTypes: strings.Join(c.Request().Form["grant_types"], ","),
		RedirectURIs: c.FormValue("redirect_uris"), Scopes: c.FormValue("requested_scopes"), AuthMethod: c.FormValue("token_endpoint_auth_method")}
	body := map[string]any{"name": f.Name}
	if g := lines(f.GrantTypes); len(g) > 0 {
		body["grant_types"] = g
	}
	if r := lines(f.RedirectURIs); len(r) > 0 {
		body["redirect_uris"] = r
	}
	if sc := lines(f.Scopes); len(sc) > 0 {
		body["requested_scopes"] = sc
	}
	if f.AuthMethod != "" {
		body["token_endpoint_auth_method"] = f.AuthMethod
	}
	a, err := s.do(c, p.Principal, request{Method: http.MethodPost, Path: "/v1/platform/apps", Body: body, IdempotencyKey: c.FormValue("idempotency_key")})
	if err != nil {
		return err
	}
	if !a.ok() {
		pr := a.problem()
		if a.Status == http.StatusForbidden || a.Status == http.StatusUnauthorized {
			return s.failed(c, p, a)
		}
		return s.render(c, a.Status, "app_new", p, view{Title: "New app", Nav: "apps", Error: pr.message(), Fields: pr.fields(),
			Data: f}) // a fresh Idempotency-Key: the refused request changed nothing
	}
	var app App
	if err := json.Unmarshal(a.Body, &app); err != nil {
		return err
	}
	return s.render(c, http.StatusCreated, "secret", p, view{Title: "App created", Nav: "apps", Data: secretView{
		What: "app " + app.Name, Secret: app.ClientSecret, ClientID: app.ClientID, Back: "/console/apps/" + app.ID}})
}

// secretView shows a secret once.
type secretView struct {
	What, Secret, ClientID, Back, Expires string
}

// appPage shows one app with its approvals and secrets.
func (s *Console) appPage(c echo.Context, p person) error {
	app, a, err := s.loadApp(c, p, c.Param("id"))
	if err != nil || !a.ok() {
		return s.orFailed(c, p, a, err)
	}
	app.Creator = s.creator(c, p, app.CreatedBy)
	v := view{Title: app.Name, Nav: "apps", Data: app}
	return s.render(c, http.StatusOK, "app", p, v)
}

// loadApp reads an app and the quorum each of its approvals needs.
func (s *Console) loadApp(c echo.Context, p person, id string) (App, answer, error) {
	var app App
	a, err := s.get(c, p.Principal, "/v1/platform/apps/"+url.PathEscape(id), &app)
	if err != nil || !a.ok() {
		return app, a, err
	}
	var scopes authz.Page[catalog.Scope]
	need := map[string]int{}
	if b, err := s.get(c, p.Principal, "/v1/platform/scopes?limit=500", &scopes); err == nil && b.ok() {
		for _, sc := range scopes.Items {
			need[sc.Name] = sc.ApprovalsRequired
		}
	}
	var policies authz.Page[struct {
		Subject           string `json:"subject"`
		ApprovalsRequired int    `json:"approvals_required"`
	}]
	policy := map[string]int{}
	if b, err := s.get(c, p.Principal, "/v1/platform/approval-policies", &policies); err == nil && b.ok() {
		for _, po := range policies.Items {
			policy[po.Subject] = po.ApprovalsRequired
		}
	}
	d := &app.Decisions
	for _, sc := range app.Scopes {
		d.Scopes = append(d.Scopes, Approval{ApprovalView: sc.ApprovalView, Required: need[sc.Scope], Kind: "scope", Value: sc.Scope})
	}
	for _, g := range app.Grants {
		d.Grants = append(d.Grants, Approval{ApprovalView: g.ApprovalView, Required: orOne(policy["grant_type"]), Kind: "grant_type", Value: g.GrantType})
	}
	for _, r := range app.RedirectURIApprovals {
		d.RedirectURIs = append(d.RedirectURIs, Approval{ApprovalView: r.ApprovalView, Required: orOne(policy["redirect_uri"]), Kind: "redirect_uri", Value: r.RedirectURI})
	}
	return app, a, nil
}

func orOne(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// decide posts a scope, grant-type or redirect-URI decision with the
// form's Idempotency-Key (a double click decides once).
func (s *Console) decide(c echo.Context, p person) error {
	id, kind := c.Param("id"), c.FormValue("kind")
	if kind != "scope" && kind != "grant_type" && kind != "redirect_uri" {
		return s.refused(c, p, http.StatusBadRequest, "The form names no scope, grant type or redirect URI.")
	}
	body := map[string]any{kind: c.FormValue("value"), "decision": c.FormValue("decision")}
	if r := strings.TrimSpace(c.FormValue("reason")); r != "" {
		body["reason"] = r
	}
	return s.act(c, p, request{Method: http.MethodPost, Path: "/v1/platform/apps/" + url.PathEscape(id) + "/scope-decisions", Body: body},
		appURL(id), "Decision recorded: "+c.FormValue("decision")+" "+c.FormValue("value")+".")
}

// rotateSecret posts a secret rotation with the grace period, the
// form's Idempotency-Key and the app's version as If-Match.
func (s *Console) rotateSecret(c echo.Context, p person) error {
	id := c.Param("id")
	return s.rotation(c, p, "/v1/platform/apps/"+url.PathEscape(id)+"/secrets", appURL(id), "apps", "Secret rotated", "the app")
}

// revokeSecret deletes one secret, If-Match the app's version.
func (s *Console) revokeSecret(c echo.Context, p person) error {
	id := c.Param("id")
	return s.act(c, p, request{Method: http.MethodDelete,
		Path: "/v1/platform/apps/" + url.PathEscape(id) + "/secrets/" + url.PathEscape(c.Param("secret_id"))}, appURL(id), "Secret revoked.")
}

// creator names who created an app: a user by name and e-mail, an app by
// its name, read through the API as the person ("" when it may not read
// them or they are gone).
func (s *Console) creator(c echo.Context, p person, id string) string {
	switch {
	case strings.HasPrefix(id, "user_"):
		var u User
		if a, err := s.get(c, p.Principal, "/v1/platform/users/"+url.PathEscape(id), &u); err == nil && a.ok() {
			if u.Name != "" {
				return u.Name + " <" + u.Email + ">"
			}
			return u.Email
		}
	case strings.HasPrefix(id, "app_"):
		var a2 struct {
			Name string `json:"name"`
		}
		if a, err := s.get(c, p.Principal, "/v1/platform/apps/"+url.PathEscape(id), &a2); err == nil && a.ok() {
			return "app " + a2.Name
		}
	}
	return ""
}

// rotation is every secret rotation's form (an app's secret, a
// webhook's): the grace period, the request (send), the new secret shown
// once (the answer's client_secret or secret) with when the previous
// ones stop.
func (s *Console) rotation(c echo.Context, p person, path, back, nav, title, what string) error {
	grace, err := strconv.Atoi(strings.TrimSpace(c.FormValue("grace_period_seconds")))
	if err != nil {
		return s.backTo(c, p, back, "", "The grace period must be a whole number of seconds.")
	}
	a, ok, err := s.send(c, p, request{Method: http.MethodPost, Path: path, Body: map[string]any{"grace_period_seconds": grace}}, back)
	if err != nil || !ok {
		return err
	}
	var out struct {
		ClientSecret      string     `json:"client_secret"`
		Secret            string     `json:"secret"`
		PreviousExpiresAt *time.Time `json:"previous_expires_at"`
	}
	if err := json.Unmarshal(a.Body, &out); err != nil {
		return err
	}
	return s.render(c, http.StatusCreated, "secret", p, view{Title: title, Nav: nav, Data: secretView{
		What: what, Secret: out.ClientSecret + out.Secret, Back: back, Expires: showTime(out.PreviousExpiresAt)}})
}

// cursorPath is a list's API path with the page's cursor, if any.
func cursorPath(c echo.Context, path string) string {
	if cur := c.QueryParam("cursor"); cur != "" {
		return path + "&cursor=" + url.QueryEscape(cur)
	}
	return path
}

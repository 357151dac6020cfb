package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/vault"
)

// Credential is the API's upstream credential (vault.CredentialView,
// API.md "Upstream credentials (the vault)"); the console reads it, never
// a secret.
type Credential struct{ vault.CredentialView }

// Interactive reports whether a person authorizes the credential at its
// provider (the Authorize / Reauthorize button); the API decides whether
// it may be now.
func (c Credential) Interactive() bool {
	return c.GrantType == "authorization_code" || c.GrantType == "implicit"
}

// TenantHealth is GET /v1/credentials/health.
type TenantHealth struct{ vault.TenantHealthView }

// Count is one status's count, in the dashboard's order.
type Count struct {
	Status, Label string
	N             int
}

// Dashboard is the counts in a fixed order: the four the issue names
// first, then the others.
func (h TenantHealth) Dashboard() []Count {
	out := []Count{}
	for _, s := range [][2]string{{"active", "Active"}, {"expiring_soon", "Expiring soon"}, {"revoked", "Revoked"}, {"failed", "Failed"},
		{"pending_authorization", "Pending authorization"}, {"expired", "Expired"}} {
		out = append(out, Count{Status: s[0], Label: s[1], N: h.Counts[s[0]]})
	}
	return out
}

// Activity is an approval activity (vault.ActivityView: a credential
// create or delete that waits for N admins).
type Activity struct{ vault.ActivityView }

// Approvals counts the approve votes.
func (a Activity) Approvals() int {
	n := 0
	for _, v := range a.Votes {
		if v.Decision == "approve" {
			n++
		}
	}
	return n
}

// Show is a JSON document indented for a page (the intent and result:
// the API's redacted view, no secret).
func (Activity) Show(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return string(raw)
	}
	return string(b)
}

// credentialRow is a credential of the list with its health.
type credentialRow struct {
	Credential
	Health vault.HealthView
}

// credentialsPage is the vault's dashboard: counts per status, the
// credentials needing attention, and one page of credentials with each
// one's health.
func (s *Console) credentialsPage(c echo.Context, p person) error {
	var th TenantHealth
	if a, err := s.get(c, p.Principal, "/v1/credentials/health", &th); err != nil || !a.ok() {
		return s.orFailed(c, p, a, err)
	}
	var creds authz.Page[Credential]
	if a, err := s.get(c, p.Principal, cursorPath(c, "/v1/credentials?limit=50"), &creds); err != nil || !a.ok() {
		return s.orFailed(c, p, a, err)
	}
	rows := make([]credentialRow, 0, len(creds.Items))
	for _, cr := range creds.Items {
		var h vault.HealthView
		a, err := s.get(c, p.Principal, "/v1/credentials/"+url.PathEscape(cr.ID)+"/health", &h)
		if err != nil {
			return err
		}
		if !a.ok() {
			if a.Status == http.StatusNotFound { // deleted since the list was read
				continue
			}
			return s.failed(c, p, a)
		}
		rows = append(rows, credentialRow{Credential: cr, Health: h})
	}
	return s.render(c, http.StatusOK, "credentials", p, view{Title: "Vault", Nav: "vault", Data: struct {
		Health     TenantHealth
		Rows       []credentialRow
		NextCursor string
	}{th, rows, creds.NextCursor}})
}

// credentialPage shows a credential: fields, health, versions with
// rollback, force refresh and (re)authorize.
func (s *Console) credentialPage(c echo.Context, p person) error {
	id := url.PathEscape(c.Param("id"))
	if !httpapi.RoutedAs(s.api, http.MethodGet, "/v1/credentials/"+id, "/v1/credentials/:id") {
		// An id that spells a route of its own (health, callback).
		return s.refused(c, p, http.StatusNotFound, "credential not found")
	}
	var cr Credential
	if a, err := s.get(c, p.Principal, "/v1/credentials/"+id, &cr); err != nil || !a.ok() {
		return s.orFailed(c, p, a, err)
	}
	var h vault.HealthView
	if a, err := s.get(c, p.Principal, "/v1/credentials/"+id+"/health", &h); err != nil || !a.ok() {
		return s.orFailed(c, p, a, err)
	}
	var vs authz.Page[vault.VersionView]
	if a, err := s.get(c, p.Principal, "/v1/credentials/"+id+"/versions", &vs); err != nil || !a.ok() {
		return s.orFailed(c, p, a, err)
	}
	// The Authorize form posts here and is redirected to the provider:
	// the page's form-action admits the provider's origin too.
	if cr.Interactive() {
		if u, err := url.Parse(cr.AuthURL); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
			h := c.Response().Header()
			h.Set("Content-Security-Policy", strings.Replace(h.Get("Content-Security-Policy"), "form-action 'self'",
				"form-action 'self' "+u.Scheme+"://"+u.Host, 1))
		}
	}
	v := view{Title: "Credential " + cr.Name, Nav: "vault",
		Data: struct {
			Cred     Credential
			Health   vault.HealthView
			Versions []vault.VersionView
		}{cr, h, vs.Items}}
	return s.render(c, http.StatusOK, "credential", p, v)
}

// credentialAction posts one vault action (send: the form's
// Idempotency-Key, the credential's version as If-Match) coming back to
// the credential page.
func (s *Console) credentialAction(c echo.Context, p person, action string, body any) (answer, bool, error) {
	id := c.Param("id")
	return s.send(c, p, request{Method: http.MethodPost, Path: "/v1/credentials/" + url.PathEscape(id) + "/" + action, Body: body}, credentialURL(id))
}

func (s *Console) refreshCredential(c echo.Context, p person) error {
	_, ok, err := s.credentialAction(c, p, "refresh", nil)
	if err != nil || !ok {
		return err
	}
	return s.backTo(c, p, credentialURL(c.Param("id")), "Refreshed: a new token set is current.", "")
}

func (s *Console) rollbackCredential(c echo.Context, p person) error {
	n, err := strconv.Atoi(strings.TrimSpace(c.FormValue("target")))
	if err != nil {
		return s.backTo(c, p, credentialURL(c.Param("id")), "", "The form names no version.")
	}
	_, ok, err := s.credentialAction(c, p, "rollback", map[string]any{"version": n})
	if err != nil || !ok {
		return err
	}
	return s.backTo(c, p, credentialURL(c.Param("id")), "Rolled back: version "+strconv.Itoa(n)+" is current.", "")
}

// authorizeCredential asks the API for the provider's authorize URL and
// sends the browser there; the provider returns to the API's callback.
func (s *Console) authorizeCredential(c echo.Context, p person) error {
	a, ok, err := s.credentialAction(c, p, "authorize", nil)
	if err != nil || !ok {
		return err
	}
	var out struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	if err := json.Unmarshal(a.Body, &out); err != nil {
		return err
	}
	if u, err := url.Parse(out.AuthorizeURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return s.backTo(c, p, credentialURL(c.Param("id")), "", "The API answered no usable authorize URL.")
	}
	return c.Redirect(http.StatusSeeOther, out.AuthorizeURL)
}

// activitiesPage lists the approval activities.
func (s *Console) activitiesPage(c echo.Context, p person) error {
	var acts authz.Page[Activity]
	if a, err := s.get(c, p.Principal, cursorPath(c, "/v1/platform/activities?limit=50"), &acts); err != nil || !a.ok() {
		return s.orFailed(c, p, a, err)
	}
	return s.render(c, http.StatusOK, "activities", p, view{Title: "Approval activities", Nav: "vault", Data: acts})
}

// activityPage shows one activity, its votes and the decision form when
// the API says the person may decide.
func (s *Console) activityPage(c echo.Context, p person) error {
	var act Activity
	if a, err := s.get(c, p.Principal, "/v1/platform/activities/"+url.PathEscape(c.Param("id")), &act); err != nil || !a.ok() {
		return s.orFailed(c, p, a, err)
	}
	return s.render(c, http.StatusOK, "activity", p, view{Title: "Activity " + act.ID, Nav: "vault",
		Data: act})
}

// decideActivity posts an approve or reject vote.
func (s *Console) decideActivity(c echo.Context, p person) error {
	id := c.Param("id")
	body := map[string]any{"decision": c.FormValue("decision")}
	if r := strings.TrimSpace(c.FormValue("reason")); r != "" {
		body["reason"] = r
	}
	return s.act(c, p, request{Method: http.MethodPost, Path: "/v1/platform/activities/" + url.PathEscape(id) + "/decisions", Body: body},
		activityURL(id), "Decision recorded: "+c.FormValue("decision")+".")
}

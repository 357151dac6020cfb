package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// appEditForm is the edit form's fields (sent back to itself on an error).
type appEditForm struct {
	ID, Name, RedirectURIs string
	GrantTypes             []string
	Version                uint64
}

// Has reports whether the form's grant types include g.
func (f appEditForm) Has(g string) bool { return slices.Contains(f.GrantTypes, g) }

// editAppPage shows the edit form of an app: name, redirect URIs, grant
// types, with its version for If-Match.
func (s *Console) editAppPage(c echo.Context, p person) error {
	var app App
	if a, err := s.get(c, p.Principal, "/v1/platform/apps/"+url.PathEscape(c.Param("id")), &app); err != nil || !a.ok() {
		return s.orFailed(c, p, a, err)
	}
	return s.render(c, http.StatusOK, "app_edit", p, view{Title: "Edit " + app.Name, Nav: "apps", Data: appEditForm{ID: app.ID, Name: app.Name,
		RedirectURIs: strings.Join(app.RedirectURIs, "\n"), GrantTypes: app.GrantTypes, Version: app.Version}})
}

// editApp sends PATCH /v1/platform/apps/{id} {name, redirect_uris,
// grant_types} with If-Match; a refusal re-renders the form with each
// problem by its field (a 412: the page was stale).
func (s *Console) editApp(c echo.Context, p person) error {
	id := c.Param("id")
	version, _ := strconv.ParseUint(c.FormValue("version"), 10, 64)
	f := appEditForm{ID: id, Name: c.FormValue("name"), RedirectURIs: c.FormValue("redirect_uris"),
		GrantTypes: c.Request().Form["grant_types"], Version: version}
	redirects := lines(f.RedirectURIs)
	if redirects == nil {
		redirects = []string{}
	}
	grants := f.GrantTypes
	if grants == nil {
		grants = []string{}
	}
	a, err := s.do(c, p.Principal, request{Method: http.MethodPatch, Path: "/v1/platform/apps/" + url.PathEscape(id),
		Body: map[string]any{"name": f.Name, "redirect_uris": redirects, "grant_types": grants}, IfMatch: c.FormValue("version")})
	if err != nil {
		return err
	}
	if !a.ok() {
		if a.Status == http.StatusForbidden || a.Status == http.StatusUnauthorized || a.Status == http.StatusNotFound {
			return s.failed(c, p, a)
		}
		pr := a.problem()
		return s.render(c, a.Status, "app_edit", p, view{Title: "Edit " + f.Name, Nav: "apps", Error: pr.message(), Fields: pr.fields(), Data: f})
	}
	return s.backTo(c, p, appURL(id), "App saved.", "")
}

// setAppActive deactivates (its tokens die at once) or reactivates an
// app: PATCH {active} with If-Match.
func (s *Console) setAppActive(c echo.Context, p person) error {
	id := c.Param("id")
	active := c.FormValue("active") == "true"
	done := "App deactivated: its tokens stopped working."
	if active {
		done = "App reactivated."
	}
	return s.act(c, p, request{Method: http.MethodPatch, Path: "/v1/platform/apps/" + url.PathEscape(id), Body: map[string]any{"active": active}},
		appURL(id), done)
}

// serviceToken mints a service token for the app (POST
// /v1/platform/apps/{id}/tokens) and shows it once.
func (s *Console) serviceToken(c echo.Context, p person) error {
	id := c.Param("id")
	ttl, err := strconv.Atoi(strings.TrimSpace(c.FormValue("ttl_seconds")))
	if err != nil {
		return s.backTo(c, p, appURL(id), "", "The lifetime must be a whole number of seconds.")
	}
	scopes := lines(c.FormValue("scopes"))
	if scopes == nil {
		scopes = []string{}
	}
	a, ok, err := s.send(c, p, request{Method: http.MethodPost, Path: "/v1/platform/apps/" + url.PathEscape(id) + "/tokens",
		Body: map[string]any{"scopes": scopes, "ttl_seconds": ttl}}, appURL(id))
	if err != nil || !ok {
		return err
	}
	var out struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal(a.Body, &out); err != nil {
		return err
	}
	return s.render(c, http.StatusCreated, "secret", p, view{Title: "Service token", Nav: "apps", Data: secretView{
		What: "a service token of the app (scopes: " + out.Scope + ")", Secret: out.AccessToken, Back: appURL(id)}})
}

package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/identity"
)

// User is the API's user as the pages show it.
type User struct{ identity.UserView }

// Role is the user's role as the role form shows it.
func (u User) Role() string {
	for _, r := range u.Roles {
		if r == "admin" {
			return "admin"
		}
	}
	return "member"
}

// userForm is what the create form sends back to itself on an error
// (never the password).
type userForm struct{ Email, Name, Role string }

func (s *Console) newUserPage(c echo.Context, p person) error {
	return s.render(c, http.StatusOK, "user_new", p, view{Title: "New user", Nav: "users", Data: userForm{Role: "member"}})
}

// createUser posts the form to POST /v1/platform/users with the form's
// Idempotency-Key; a refusal comes back with each problem by its field.
func (s *Console) createUser(c echo.Context, p person) error {
	f := userForm{Email: strings.TrimSpace(c.FormValue("email")), Name: strings.TrimSpace(c.FormValue("name")), Role: c.FormValue("role")}
	body := map[string]any{"email": f.Email, "name": f.Name, "password": c.FormValue("password"), "roles": []string{f.Role}}
	a, err := s.do(c, p.Principal, request{Method: http.MethodPost, Path: "/v1/platform/users", Body: body, IdempotencyKey: c.FormValue("idempotency_key")})
	if err != nil {
		return err
	}
	if !a.ok() {
		if a.Status == http.StatusForbidden || a.Status == http.StatusUnauthorized {
			return s.failed(c, p, a)
		}
		pr := a.problem()
		return s.render(c, a.Status, "user_new", p, view{Title: "New user", Nav: "users", Error: pr.message(), Fields: pr.fields(), Data: f})
	}
	var u User
	if err := json.Unmarshal(a.Body, &u); err != nil {
		return err
	}
	return s.backTo(c, p, userURL(u.ID), "User "+u.Email+" created.", "")
}

// userPage shows a user with the role, disable/enable and delete forms
// (each If-Match the user's version).
func (s *Console) userPage(c echo.Context, p person) error {
	var u User
	if a, err := s.get(c, p.Principal, "/v1/platform/users/"+url.PathEscape(c.Param("id")), &u); err != nil || !a.ok() {
		return s.orFailed(c, p, a, err)
	}
	return s.render(c, http.StatusOK, "user", p, view{Title: "User " + u.Email, Nav: "users", Data: u})
}

func (s *Console) patchUser(c echo.Context, p person, body map[string]any, done string) error {
	id := c.Param("id")
	return s.act(c, p, request{Method: http.MethodPatch, Path: "/v1/platform/users/" + url.PathEscape(id), Body: body}, userURL(id), done)
}

func (s *Console) setRole(c echo.Context, p person) error {
	role := c.FormValue("role")
	return s.patchUser(c, p, map[string]any{"roles": []string{role}}, "Role set: "+role+".")
}

func (s *Console) disableUser(c echo.Context, p person) error {
	return s.patchUser(c, p, map[string]any{"disabled": true}, "User disabled: their sessions and tokens ended.")
}

func (s *Console) enableUser(c echo.Context, p person) error {
	return s.patchUser(c, p, map[string]any{"disabled": false}, "User enabled.")
}

// deleteUser deletes the user (If-Match) and goes back to the list.
func (s *Console) deleteUser(c echo.Context, p person) error {
	id := c.Param("id")
	_, ok, err := s.send(c, p, request{Method: http.MethodDelete, Path: "/v1/platform/users/" + url.PathEscape(id)}, userURL(id))
	if err != nil || !ok {
		return err
	}
	return s.backTo(c, p, "/console/users", "User deleted.", "")
}

package e2e

import (
	"crypto/rand"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// userView is the User object of API.md "Users and sign-in".
type userView struct {
	ID        string   `json:"id"`
	Email     string   `json:"email"`
	Name      string   `json:"name"`
	Roles     []string `json:"roles"`
	Disabled  bool     `json:"disabled"`
	CreatedAt string   `json:"created_at"`
	Version   uint64   `json:"version"`
}

// userPassword is acceptable to the password policy.
const userPassword = "violet-harbour-lantern-42"

func uniqueEmail(*testing.T) string {
	return "u-" + strings.ToLower(rand.Text()[:10]) + "@example.com"
}

func (a *api) createUser(body map[string]any) userView {
	a.t.Helper()
	if pw, ok := body["password"].(string); ok {
		leaks.add(pw) // a password is a secret: never in a log, a store or an answer
	}
	r := a.call(http.MethodPost, "/v1/platform/users", body)
	if r.Status != http.StatusCreated {
		a.t.Fatalf("create user: %s", r)
	}
	var u userView
	r.decode(a.t, &u)
	return u
}

// TestUsersCreateAndRead: 201 with the User object (no password, no hash),
// its ETag; GET one and the list find it; an e-mail is unique per tenant
// without case (409); a replayed Idempotency-Key answers the first 201,
// and reused with another body is 422.
func TestUsersCreateAndRead(t *testing.T) {
	t.Parallel()
	a := adminAPI(t, shared(t))
	email := uniqueEmail(t)
	r := a.call(http.MethodPost, "/v1/platform/users", map[string]any{"email": email, "name": "Ada Lovelace", "password": userPassword})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %s", r)
	}
	var u userView
	r.decode(t, &u)
	if !strings.HasPrefix(u.ID, "user_") || u.Email != email || u.Name != "Ada Lovelace" || !slices.Equal(u.Roles, []string{"member"}) || u.Disabled || u.Version != 1 || u.CreatedAt == "" {
		t.Fatalf("created %+v", u)
	}
	if r.Header.Get("ETag") != `"1"` {
		t.Fatalf("ETag %q", r.Header.Get("ETag"))
	}
	for _, leak := range []string{userPassword, "argon2", "password", "hash"} {
		if strings.Contains(string(r.Body), leak) {
			t.Fatalf("the answer holds %q: %s", leak, r.Body)
		}
	}
	g := a.call(http.MethodGet, "/v1/platform/users/"+u.ID, nil)
	var got userView
	if g.Status != http.StatusOK {
		t.Fatalf("get: %s", g)
	}
	g.decode(t, &got)
	if got.ID != u.ID || got.Email != email || g.Header.Get("ETag") != `"1"` || strings.Contains(string(g.Body), "hash") {
		t.Fatalf("get: %s", g)
	}

	// The same e-mail in other case: 409.
	dup := a.call(http.MethodPost, "/v1/platform/users", map[string]any{"email": strings.ToUpper(email), "name": "Other", "password": userPassword})
	wantProblem(t, dup, http.StatusConflict, "conflict")

	// The list holds it, in pages.
	found := false
	for cursor := ""; ; {
		path := "/v1/platform/users?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		l := a.call(http.MethodGet, path, nil)
		if l.Status != http.StatusOK {
			t.Fatalf("list: %s", l)
		}
		var page struct {
			Items      []userView `json:"items"`
			NextCursor string     `json:"next_cursor"`
		}
		l.decode(t, &page)
		for _, it := range page.Items {
			found = found || it.ID == u.ID
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if !found {
		t.Fatal("the list lacks the user")
	}
	wantProblem(t, a.call(http.MethodGet, "/v1/platform/users?limit=0", nil), http.StatusBadRequest, "validation_error")
	wantProblem(t, a.call(http.MethodGet, "/v1/platform/users/user_nope", nil), http.StatusNotFound, "not_found")

	// Idempotency-Key: a replay is the first answer; another body is 422.
	key := "users-" + rand.Text()
	body := map[string]any{"email": uniqueEmail(t), "name": "Grace", "password": userPassword}
	first := a.call(http.MethodPost, "/v1/platform/users", body, "Idempotency-Key", key)
	again := a.call(http.MethodPost, "/v1/platform/users", body, "Idempotency-Key", key)
	if first.Status != http.StatusCreated || again.Status != http.StatusCreated || string(first.Body) != string(again.Body) {
		t.Fatalf("replay: %s then %s", first, again)
	}
	body["name"] = "Grace Hopper"
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/users", body, "Idempotency-Key", key), http.StatusUnprocessableEntity, "idempotency_key_reused")
}

// TestUsersValidation: every invalid field in one 400, the password policy
// named on the password field; 413 and 415 on the bodies.
func TestUsersValidation(t *testing.T) {
	t.Parallel()
	a := adminAPI(t, shared(t))
	r := a.call(http.MethodPost, "/v1/platform/users", map[string]any{"email": "not an e-mail", "name": "", "password": "short", "roles": []string{"owner"}})
	p := wantProblem(t, r, http.StatusBadRequest, "validation_error")
	if f := p.fields(); !slices.Equal(f, []string{"email", "name", "password", "roles"}) {
		t.Fatalf("fields %v: %s", f, r)
	}
	email := uniqueEmail(t)
	local, _, _ := strings.Cut(email, "@")
	for _, pw := range []string{email, local + "12", "aaaaaaaaaaaaaaaa", "abcdefghijklmnop", "password1234"} {
		r := a.call(http.MethodPost, "/v1/platform/users", map[string]any{"email": email, "name": "N", "password": pw})
		if p := wantProblem(t, r, http.StatusBadRequest, "validation_error"); !slices.Equal(p.fields(), []string{"password"}) {
			t.Fatalf("password %q: %s", pw, r)
		}
	}
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/users", map[string]any{"email": email, "name": "N", "password": userPassword, "extra": 1}),
		http.StatusBadRequest, "validation_error")
	big := `{"email":"` + strings.Repeat("a", 2<<20) + `"}`
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/users", big), http.StatusRequestEntityTooLarge, "payload_too_large")
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/users", "{}", "Content-Type", "text/plain"), http.StatusUnsupportedMediaType, "unsupported_media_type")

	u := a.createUser(map[string]any{"email": email, "name": "N", "password": userPassword})
	path := "/v1/platform/users/" + u.ID
	r = a.call(http.MethodPatch, path, map[string]any{"name": "", "password": "short", "roles": []string{}})
	if p := wantProblem(t, r, http.StatusBadRequest, "validation_error"); !slices.Equal(p.fields(), []string{"name", "password", "roles"}) {
		t.Fatalf("patch fields: %s", r)
	}
	wantProblem(t, a.call(http.MethodPatch, path, big), http.StatusRequestEntityTooLarge, "payload_too_large")
	wantProblem(t, a.call(http.MethodPatch, path, "{}", "Content-Type", "text/plain"), http.StatusUnsupportedMediaType, "unsupported_media_type")
}

// TestUsersPatchDelete: each change moves the version; If-Match with an
// old version is 412 and changes nothing; DELETE is 204, then 404, and the
// e-mail is free again.
func TestUsersPatchDelete(t *testing.T) {
	t.Parallel()
	a := adminAPI(t, shared(t))
	email := uniqueEmail(t)
	u := a.createUser(map[string]any{"email": email, "name": "Ada", "password": userPassword})
	path := "/v1/platform/users/" + u.ID
	r := a.call(http.MethodPatch, path, map[string]any{"name": "Ada King", "roles": []string{"member", "admin", "member"}, "disabled": true, "password": "another-long-passphrase-7"}, "If-Match", `"1"`)
	if r.Status != http.StatusOK {
		t.Fatalf("patch: %s", r)
	}
	var got userView
	r.decode(t, &got)
	// Three events: user.updated, user.password_changed, user.disabled.
	if got.Name != "Ada King" || !slices.Equal(got.Roles, []string{"admin", "member"}) || !got.Disabled || got.Version != 4 || r.Header.Get("ETag") != `"4"` {
		t.Fatalf("patched %s", r)
	}
	leaks.add("another-long-passphrase-7")
	leaks.add("taken-over-passphrase-9")
	// The audit feed shows the user's events without the sealed hash.
	items, _ := a.feedPages("control", "user.created,user.updated,user.password_changed,user.disabled", 500)
	var seen []string
	for _, e := range items {
		if !strings.Contains(e.Subject, u.ID) {
			continue
		}
		seen = append(seen, e.Type)
		if strings.Contains(string(e.Data), "password_hash") || strings.Contains(string(e.Data), "v1:") {
			t.Errorf("the feed's %s holds the sealed hash: %s", e.Type, e.Data)
		}
		if e.Type == "user.created" && !strings.Contains(string(e.Data), email) {
			t.Errorf("the feed's user.created lacks the e-mail: %s", e.Data)
		}
	}
	if want := []string{"user.created", "user.updated", "user.password_changed", "user.disabled"}; !slices.Equal(seen, want) {
		t.Errorf("the feed shows %v of the user, want %v", seen, want)
	}
	// Nothing to change: no event, the same version.
	if r := a.call(http.MethodPatch, path, map[string]any{"name": "Ada King", "disabled": true}); r.Status != http.StatusOK || r.Header.Get("ETag") != `"4"` {
		t.Fatalf("a patch changing nothing: %s", r)
	}
	wantProblem(t, a.call(http.MethodPatch, path, map[string]any{"disabled": false}, "If-Match", `"1"`), http.StatusPreconditionFailed, "precondition_failed")
	wantProblem(t, a.call(http.MethodDelete, path, nil, "If-Match", `"2"`), http.StatusPreconditionFailed, "precondition_failed")
	if r := a.call(http.MethodPatch, path, map[string]any{"disabled": false}, "If-Match", `"4"`); r.Status != http.StatusOK {
		t.Fatalf("enable: %s", r)
	} else if r.decode(t, &got); got.Disabled || got.Version != 5 {
		t.Fatalf("enabled: %s", r)
	}
	wantProblem(t, a.call(http.MethodPatch, "/v1/platform/users/user_nope", map[string]any{"name": "x"}), http.StatusNotFound, "not_found")

	if r := a.call(http.MethodDelete, path, nil, "If-Match", `"5"`); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %s", r)
	}
	wantProblem(t, a.call(http.MethodGet, path, nil), http.StatusNotFound, "not_found")
	wantProblem(t, a.call(http.MethodDelete, path, nil), http.StatusNotFound, "not_found")
	again := a.createUser(map[string]any{"email": strings.ToUpper(email), "name": "Ada again", "password": userPassword})
	if again.ID == u.ID {
		t.Fatal("a new user took the deleted one's id")
	}
}

// TestUsersAuthority: without a token 401; without the users scopes 403
// insufficient_scope; with platform:users:write but not the tenant-admin
// scopes, a caller may create members but not give the admin role, nor
// change or delete an admin user (403 forbidden, nothing changed).
func TestUsersAuthority(t *testing.T) {
	t.Parallel()
	a := adminAPI(t, shared(t))
	admin := a.createUser(map[string]any{"email": uniqueEmail(t), "name": "Boss", "password": userPassword, "roles": []string{"admin"}})
	if !slices.Equal(admin.Roles, []string{"admin"}) {
		t.Fatalf("admin user %+v", admin)
	}
	adminPath := "/v1/platform/users/" + admin.ID

	anon := a.as("")
	wantProblem(t, anon.call(http.MethodPost, "/v1/platform/users", map[string]any{}), http.StatusUnauthorized, "unauthorized")
	wantProblem(t, anon.call(http.MethodGet, "/v1/platform/users", nil), http.StatusUnauthorized, "unauthorized")
	wantProblem(t, anon.call(http.MethodGet, adminPath, nil), http.StatusUnauthorized, "unauthorized")
	wantProblem(t, anon.call(http.MethodPatch, adminPath, map[string]any{}), http.StatusUnauthorized, "unauthorized")
	wantProblem(t, anon.call(http.MethodDelete, adminPath, nil), http.StatusUnauthorized, "unauthorized")

	appsOnly := a.as(a.mint(adminCreds(), "platform:apps:read").AccessToken)
	wantProblem(t, appsOnly.call(http.MethodPost, "/v1/platform/users", map[string]any{}), http.StatusForbidden, "insufficient_scope")
	wantProblem(t, appsOnly.call(http.MethodGet, "/v1/platform/users", nil), http.StatusForbidden, "insufficient_scope")
	wantProblem(t, appsOnly.call(http.MethodGet, adminPath, nil), http.StatusForbidden, "insufficient_scope")

	users := a.as(a.mint(adminCreds(), "platform:users:read", "platform:users:write").AccessToken)
	member := users.createUser(map[string]any{"email": uniqueEmail(t), "name": "Member", "password": userPassword})
	wantProblem(t, users.call(http.MethodPost, "/v1/platform/users", map[string]any{"email": uniqueEmail(t), "name": "X", "password": userPassword, "roles": []string{"admin"}}),
		http.StatusForbidden, "forbidden")
	wantProblem(t, users.call(http.MethodPatch, "/v1/platform/users/"+member.ID, map[string]any{"roles": []string{"admin"}}), http.StatusForbidden, "forbidden")
	wantProblem(t, users.call(http.MethodPatch, adminPath, map[string]any{"password": "taken-over-passphrase-9"}), http.StatusForbidden, "forbidden")
	wantProblem(t, users.call(http.MethodDelete, adminPath, nil), http.StatusForbidden, "forbidden")
	if r := users.call(http.MethodGet, adminPath, nil); r.Status != http.StatusOK || r.Header.Get("ETag") != `"1"` {
		t.Fatalf("the admin user changed: %s", r)
	}
	// Members are theirs to manage.
	if r := users.call(http.MethodPatch, "/v1/platform/users/"+member.ID, map[string]any{"name": "Member 2"}); r.Status != http.StatusOK {
		t.Fatalf("patch a member: %s", r)
	}
	if r := users.call(http.MethodDelete, "/v1/platform/users/"+member.ID, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete a member: %s", r)
	}
}

package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/httpapi"
)

// TestDocumentedClientErrorsSweep sends every operation of the served
// document the requests that provoke the client errors every route shares
// (the middleware's answers), where the document declares them: 401
// without a token, 403 with a token holding no scope, 413 for a body
// above the limit, 415 for a body that is not JSON, 422 for an
// Idempotency-Key reused with another body, 400 for an Idempotency-Key
// longer than 255 characters. Each must get exactly its
// status; path parameters name nothing that exists, but for the 415 of an
// app's operations (the app must exist for the body to be read).
func TestDocumentedClientErrorsSweep(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	bare := a.as(appToken(t, a, "bare"))
	ops, err := documentOperations()
	if err != nil {
		t.Fatal(err)
	}
	target := a.createApp(map[string]any{"name": uniqueName(t, "sweep-target")})
	user := a.createUser(map[string]any{"email": uniqueEmail(t), "name": "Sweep target", "password": userPassword})
	big := `{"x":"` + strings.Repeat("a", httpapi.DefaultBodyLimit) + `"}`
	for _, o := range ops {
		if !strings.HasPrefix(o.path, "/v1/") || strings.HasPrefix(o.path, "/v1/oauth/") {
			continue // the OAuth endpoints answer RFC 6749 errors: oauth_test.go
		}
		if o.path == "/v1/credentials/callback" {
			continue // the vault's redirect_uri answers HTML pages: vault_interactive_test.go
		}
		path := missingIDs(o.path)
		name := o.method + " " + o.path
		has := func(s string) bool { return hasStatus(o.statuses, s) }
		// The credential proxy streams bodies of up to 64 MiB and forwards
		// Idempotency-Key to the upstream like any header: its 413 and 400
		// are its own, provoked by e2e/proxy_test.go.
		proxied := strings.HasPrefix(o.path, "/v1/proxy/")
		if has("401") {
			if r := a.as("").call(o.method, path, nil); r.Status != http.StatusUnauthorized {
				t.Errorf("%s without a token: %s, want 401", name, r)
			}
		}
		// GraphQL's 403 is a request error of its document (a free-form
		// query without graphql:adhoc) in application/graphql-response+json,
		// not the middleware's: graphql_media_test.go provokes it.
		gql := o.path == "/v1/graphql"
		if has("403") && !gql && uncovered[name+" 403"] == "" {
			if r := bare.call(o.method, path, nil); r.Status != http.StatusForbidden {
				t.Errorf("%s with a token holding no scope: %s, want 403", name, r)
			}
		}
		if has("413") && !proxied {
			if r := a.call(o.method, path, big); r.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("%s with a body above the limit: %s, want 413", name, r)
			}
		}
		if has("415") && uncovered[name+" 415"] == "" {
			// An operation on an app checks the caller's authority over it
			// before it reads the body (issue 12), so a missing app is 404
			// first: the media type is tried on an app that exists (and
			// on a user that exists, for the same reason).
			p415 := path
			if strings.HasPrefix(o.path, "/v1/platform/apps/{id}") {
				p415 = strings.Replace(o.path, "{id}", target.ID, 1)
			}
			if strings.HasPrefix(o.path, "/v1/platform/users/{id}") {
				p415 = strings.Replace(o.path, "{id}", user.ID, 1)
			}
			if r := a.call(o.method, p415, `{}`, "Content-Type", "text/plain"); r.Status != http.StatusUnsupportedMediaType {
				t.Errorf("%s with a text/plain body: %s, want 415", name, r)
			}
		}
		if has("400") && o.method == http.MethodPost && !proxied {
			p := wantProblem(t, a.call(o.method, path, nil, "Idempotency-Key", strings.Repeat("k", 256)), http.StatusBadRequest, "validation_error")
			if !equalStrings(p.fields(), "Idempotency-Key") {
				t.Errorf("%s with a 256-character Idempotency-Key: fields %v", name, p.fields())
			}
		}
		if has("422") {
			key := "sweep-" + uniqueName(t, "k")
			a.call(o.method, path, map[string]any{"first": true}, "Idempotency-Key", key)
			if r := a.call(o.method, path, map[string]any{"second": true}, "Idempotency-Key", key); r.Status != http.StatusUnprocessableEntity {
				t.Errorf("%s with a reused Idempotency-Key: %s, want 422", name, r)
			}
		}
	}
}

// missingIDs fills a path template's parameters with ids nothing has.
func missingIDs(tmpl string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			return b.String() + tmpl
		}
		j := strings.IndexByte(tmpl[i:], '}')
		b.WriteString(tmpl[:i] + "missing_" + tmpl[i+1:i+j])
		tmpl = tmpl[i+j+1:]
	}
}

func hasStatus(statuses []string, s string) bool {
	for _, x := range statuses {
		if x == s {
			return true
		}
	}
	return false
}

package e2e

import (
	"fmt"
	"net/http"
	"testing"
)

// TestVaultRoutes walks every vault route on the real binary, its
// successes and the client errors a request sequence provokes: the server
// is its own provider (a custom provider pointing at its own token
// endpoint, allowed on loopback by GATEHOUSE_WEBHOOK_ALLOW_PRIVATE). Each
// status is checked, so a route answering otherwise fails here, and the
// route-coverage check of TestMain sees them.
func TestVaultRoutes(t *testing.T) {
	t.Parallel()
	s := startServer(t, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"))
	watchUpstreamTokens(s)
	a := adminAPI(t, s)
	up := a.createApp(map[string]any{"name": uniqueName(t, "provider")})
	cc := func(name string) map[string]any {
		return map[string]any{"name": name, "provider": "custom", "grant_type": "client_credentials",
			"client_id": up.ClientID, "client_secret": up.ClientSecret, "token_url": s.URL + "/v1/oauth/token", "scopes": []string{}}
	}
	expect := func(want int, method, path string, body any, headers ...string) reply {
		t.Helper()
		r := a.call(method, path, body, headers...)
		if r.Status != want {
			t.Fatalf("%s %s: want %d, got %s", method, path, want, r)
		}
		return r
	}
	etag := func(v uint64) string { return fmt.Sprintf("%q", fmt.Sprint(v)) }

	// Create, both ways; names are unique in the tenant.
	secret := cc("via secrets")
	secret["secret_type"] = "oauth2"
	expect(http.StatusCreated, http.MethodPost, "/v1/secrets", secret)
	expect(http.StatusConflict, http.MethodPost, "/v1/secrets", secret)
	var c credentialView
	expect(http.StatusCreated, http.MethodPost, "/v1/credentials", cc("crm")).decode(t, &c)
	expect(http.StatusConflict, http.MethodPost, "/v1/credentials", cc("crm"))
	one := "/v1/credentials/" + c.ID
	missing := "/v1/credentials/cred_missing"

	// Reads.
	expect(http.StatusOK, http.MethodGet, "/v1/credentials", nil)
	expect(http.StatusBadRequest, http.MethodGet, "/v1/credentials?limit=nope", nil)
	expect(http.StatusOK, http.MethodGet, "/v1/credentials/encryption-key", nil)
	expect(http.StatusOK, http.MethodGet, "/v1/credentials/health", nil)
	expect(http.StatusOK, http.MethodGet, one, nil)
	expect(http.StatusNotFound, http.MethodGet, missing, nil)
	expect(http.StatusNotFound, http.MethodGet, missing+"/health", nil)
	expect(http.StatusNotFound, http.MethodGet, missing+"/versions", nil)

	// PATCH: bad input changes nothing; a taken name conflicts; a stale
	// If-Match is refused.
	expect(http.StatusBadRequest, http.MethodPatch, one, map[string]any{"refresh_before_seconds": -1})
	expect(http.StatusConflict, http.MethodPatch, one, map[string]any{"name": "via secrets"})
	expect(http.StatusNotFound, http.MethodPatch, missing, map[string]any{"name": "x"})
	expect(http.StatusPreconditionFailed, http.MethodPatch, one, map[string]any{"name": "crm2"}, "If-Match", etag(c.Version+7))
	expect(http.StatusOK, http.MethodPatch, one, map[string]any{"name": "crm2"}, "If-Match", etag(c.Version)).decode(t, &c)
	if c.Name != "crm2" {
		t.Fatalf("patched name %q", c.Name)
	}

	// A forced refresh stores a second token set; rolling back to the
	// first makes it current again (once: it is then current).
	expect(http.StatusPreconditionFailed, http.MethodPost, one+"/refresh", nil, "If-Match", etag(c.Version+7)) // a stale page
	expect(http.StatusOK, http.MethodPost, one+"/refresh", nil, "If-Match", etag(c.Version)).decode(t, &c)
	expect(http.StatusPreconditionFailed, http.MethodPost, one+"/rollback", map[string]any{"version": 1}, "If-Match", etag(c.Version+7))
	expect(http.StatusOK, http.MethodPost, one+"/rollback", map[string]any{"version": 1}).decode(t, &c)
	expect(http.StatusConflict, http.MethodPost, one+"/rollback", map[string]any{"version": 1})
	expect(http.StatusNotFound, http.MethodPost, missing+"/rollback", map[string]any{"version": 1})

	// A credential waiting for its authorization has nothing to refresh with.
	pending := map[string]any{"name": "pending", "provider": "custom", "grant_type": "authorization_code",
		"client_id": up.ClientID, "client_secret": up.ClientSecret, "auth_url": s.URL + "/v1/oauth/authorize",
		"token_url": s.URL + "/v1/oauth/token", "scopes": []string{}}
	var p credentialView
	expect(http.StatusCreated, http.MethodPost, "/v1/credentials", pending).decode(t, &p)
	expect(http.StatusConflict, http.MethodPost, "/v1/credentials/"+p.ID+"/refresh", nil)

	// DELETE: stale If-Match, then gone.
	expect(http.StatusPreconditionFailed, http.MethodDelete, one, nil, "If-Match", etag(c.Version+7))
	expect(http.StatusNoContent, http.MethodDelete, one, nil, "If-Match", etag(c.Version))
	expect(http.StatusNotFound, http.MethodDelete, one, nil)
	expect(http.StatusNotFound, http.MethodGet, one, nil)
}

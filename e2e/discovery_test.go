package e2e

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
)

// metadata is the members of the discovery documents these tests read.
type metadata struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	IntrospectionAuthSigningAlgs      []string `json:"introspection_endpoint_auth_signing_alg_values_supported"`
	RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	RevocationAuthSigningAlgs         []string `json:"revocation_endpoint_auth_signing_alg_values_supported"`
}

// TestDiscovery: RFC 8414 documents at both well-known paths, identical,
// their required members, the issuer equal to GATEHOUSE_ISSUER (and
// accepted by go-oidc), and endpoints that answer. What each member
// promises is checked by TestDiscoveryOnlyWhatWorks.
func TestDiscovery(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := newAPI(t, s, "")
	docs := map[string]reply{}
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		r := a.call(http.MethodGet, path, nil)
		if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s = %s (%s)", path, r, r.Header.Get("Content-Type"))
		}
		docs[path] = r
		var m metadata
		r.decode(t, &m)
		if m.Issuer != s.URL {
			t.Errorf("%s: issuer %q, want exactly %q (RFC 8414 §3.3)", path, m.Issuer, s.URL)
		}
		for name, u := range map[string]string{"token_endpoint": m.TokenEndpoint, "jwks_uri": m.JWKSURI,
			"introspection_endpoint": m.IntrospectionEndpoint, "revocation_endpoint": m.RevocationEndpoint} {
			if !strings.HasPrefix(u, s.URL+"/") {
				t.Errorf("%s: %s %q is not under the issuer", path, name, u)
			}
		}
		if m.ResponseTypesSupported == nil {
			t.Errorf("%s: response_types_supported is required (RFC 8414 §2), empty without an authorization endpoint", path)
		}
	}
	if string(docs["/.well-known/oauth-authorization-server"].Body) != string(docs["/.well-known/openid-configuration"].Body) {
		t.Errorf("the two documents disagree:\n%s\n%s", docs["/.well-known/oauth-authorization-server"].Body, docs["/.well-known/openid-configuration"].Body)
	}
	var oauthDoc metadata
	docs["/.well-known/oauth-authorization-server"].decode(t, &oauthDoc)

	t.Run("go-oidc", func(t *testing.T) {
		c := oidc.ClientContext(ctx(t), a.hc)
		p, err := oidc.NewProvider(c, s.URL)
		if err != nil {
			t.Fatal(err)
		}
		if p.Endpoint().TokenURL != oauthDoc.TokenEndpoint {
			t.Errorf("go-oidc token URL %q", p.Endpoint().TokenURL)
		}
		_, err = oidc.NewProvider(c, s.URL+"/")
		var mismatch *oidc.IssuerMismatchError
		if !errors.As(err, &mismatch) {
			t.Errorf("go-oidc with the issuer plus a slash: %v, want an issuer mismatch", err)
		}
	})
	t.Run("advertised endpoints answer", func(t *testing.T) {
		a := a.in(t)
		for _, u := range []string{oauthDoc.TokenEndpoint, oauthDoc.IntrospectionEndpoint, oauthDoc.RevocationEndpoint} {
			r := a.form(strings.TrimPrefix(u, s.URL), url.Values{}, "", "")
			if r.Status == http.StatusNotFound || r.Status == http.StatusMethodNotAllowed || r.Status >= 500 {
				t.Errorf("POST %s = %s", u, r)
			}
		}
		if r := a.call(http.MethodGet, strings.TrimPrefix(oauthDoc.JWKSURI, s.URL), nil); r.Status != http.StatusOK {
			t.Errorf("GET %s = %s", oauthDoc.JWKSURI, r)
		}
	})
}

// TestRequestID: every answer carries X-Request-Id, echoing the caller's
// when it is acceptable, generated and unique otherwise — on successes,
// OAuth errors, problem documents and answers of the plumbing alike.
func TestRequestID(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	big := fmt.Sprintf(`{"name": "big", "metadata": {"k": %q}}`, strings.Repeat("x", 1<<20))
	requests := []struct {
		name string
		send func(a *api) reply
	}{
		{"healthz", func(a *api) reply { return a.call(http.MethodGet, "/healthz", nil) }},
		{"readyz", func(a *api) reply { return a.call(http.MethodGet, "/readyz", nil) }},
		{"metrics", func(a *api) reply { return a.call(http.MethodGet, "/metrics", nil) }},
		{"discovery", func(a *api) reply { return a.call(http.MethodGet, "/.well-known/openid-configuration", nil) }},
		{"jwks", func(a *api) reply { return a.call(http.MethodGet, "/.well-known/jwks.json", nil) }},
		{"token", func(a *api) reply {
			return a.form("/v1/oauth/token", url.Values{"grant_type": {"client_credentials"}}, adminID, adminSecret)
		}},
		{"token invalid_client", func(a *api) reply {
			return a.form("/v1/oauth/token", url.Values{"grant_type": {"client_credentials"}}, adminID, "x")
		}},
		{"token unsupported_grant_type", func(a *api) reply {
			return a.form("/v1/oauth/token", url.Values{"grant_type": {"password"}}, adminID, adminSecret)
		}},
		{"introspect", func(a *api) reply {
			return a.form("/v1/oauth/introspect", url.Values{"token": {"x"}}, adminID, adminSecret)
		}},
		{"introspect unauthenticated", func(a *api) reply { return a.as("").form("/v1/oauth/introspect", url.Values{"token": {"x"}}, "", "") }},
		{"revoke", func(a *api) reply {
			return a.form("/v1/oauth/revoke", url.Values{"token": {"x"}}, adminID, adminSecret)
		}},
		{"list apps", func(a *api) reply { return a.call(http.MethodGet, "/v1/platform/apps", nil) }},
		{"platform 401", func(a *api) reply { return a.as("").call(http.MethodGet, "/v1/platform/apps", nil) }},
		{"platform 404", func(a *api) reply { return a.call(http.MethodGet, "/v1/platform/apps/app_nope", nil) }},
		{"platform 400", func(a *api) reply { return a.call(http.MethodPost, "/v1/platform/apps", map[string]any{}) }},
		{"platform 413", func(a *api) reply { return a.call(http.MethodPost, "/v1/platform/apps", big) }},
		{"platform 415", func(a *api) reply {
			return a.call(http.MethodPost, "/v1/platform/apps", "{}", "Content-Type", "text/plain")
		}},
		{"unknown route", func(a *api) reply { return a.call(http.MethodGet, "/nope", nil) }},
		{"wrong method", func(a *api) reply { return a.call(http.MethodPut, "/v1/oauth/token", nil) }},
	}
	for _, tc := range requests {
		t.Run(tc.name, func(t *testing.T) {
			a := a.in(t)
			mine := "e2e-" + rand.Text()
			if got := tc.send(a.withHeader("X-Request-Id", mine)).Header.Get("X-Request-Id"); got != mine {
				t.Errorf("X-Request-Id = %q, want the caller's %q echoed", got, mine)
			}
			first, second := tc.send(a).Header.Get("X-Request-Id"), tc.send(a).Header.Get("X-Request-Id")
			if first == "" || first == second {
				t.Errorf("generated ids %q and %q: want two different ones", first, second)
			}
			for _, bad := range []string{"has space", strings.Repeat("x", 200), "line\tbreak", "ünïcode"} {
				if got := tc.send(a.withHeader("X-Request-Id", bad)).Header.Get("X-Request-Id"); got == "" || got == bad {
					t.Errorf("X-Request-Id %q answered with %q, want a generated one", bad, got)
				}
			}
		})
	}
}

// withHeader returns a whose requests carry header name: value.
func (a *api) withHeader(name, value string) *api {
	b := *a
	b.hc = &http.Client{Transport: headerTransport{a.hc.Transport, name, value}, Timeout: a.hc.Timeout}
	return &b
}

type headerTransport struct {
	next        http.RoundTripper
	name, value string
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.name, h.value)
	return h.next.RoundTrip(r)
}

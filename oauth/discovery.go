package oauth

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/catalog"
)

// Discovery serves the authorization server metadata (RFC 8414) at both
// well-known paths, /.well-known/oauth-authorization-server and
// /.well-known/openid-configuration (which OpenID Connect libraries read),
// encoded once. It says only what works: the token, introspection and
// revocation endpoints, the client_credentials grant, the client
// authentication methods the server accepts and the algorithms of their
// assertions. Members of features this build does not have (the
// authorization endpoint, PKCE, ID tokens, userinfo) are absent, not
// empty promises.
type Discovery struct {
	doc []byte
}

// ServerMetadata is the RFC 8414 §2 document.
type ServerMetadata struct {
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

// ClientAuthMethods are the client authentication methods the token,
// introspection and revocation endpoints accept, by their names in the
// IANA "OAuth Token Endpoint Authentication Methods" registry. "none"
// (public clients) is not among them: its only grant, authorization_code,
// does not exist yet. Introspection and revocation also take an app's
// bearer token, which has no registered name and is documented instead.
var ClientAuthMethods = []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}

// GrantTypes are the grants the token endpoint serves.
var GrantTypes = tokenGrants

// NewDiscovery builds the document of issuer.
func NewDiscovery(issuer string) (*Discovery, error) {
	m := ServerMetadata{
		Issuer:                            issuer,
		TokenEndpoint:                     issuer + tokenPath,
		JWKSURI:                           issuer + "/.well-known/jwks.json",
		IntrospectionEndpoint:             issuer + "/v1/oauth/introspect",
		RevocationEndpoint:                issuer + "/v1/oauth/revoke",
		ScopesSupported:                   advertisedScopes(),
		ResponseTypesSupported:            []string{}, // RFC 8414 requires the member; no authorization endpoint, no response type
		GrantTypesSupported:               GrantTypes,
		TokenEndpointAuthMethodsSupported: ClientAuthMethods,
		TokenEndpointAuthSigningAlgs:      AssertionSigningAlgs,
		IntrospectionAuthMethodsSupported: ClientAuthMethods,
		IntrospectionAuthSigningAlgs:      AssertionSigningAlgs,
		RevocationAuthMethodsSupported:    ClientAuthMethods,
		RevocationAuthSigningAlgs:         AssertionSigningAlgs,
	}
	doc, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &Discovery{doc: doc}, nil
}

// advertisedScopes are the built-in scopes: each guards endpoints that
// exist (the users scopes since the users API).
func advertisedScopes() []string {
	names := make([]string, len(catalog.BuiltinScopes))
	for i, s := range catalog.BuiltinScopes {
		names[i] = s.Name
	}
	return names
}

// Register adds the well-known routes to e.
func (d *Discovery) Register(e *echo.Echo) {
	e.GET("/.well-known/oauth-authorization-server", d.serve)
	e.GET("/.well-known/openid-configuration", d.serve)
}

func (d *Discovery) serve(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, d.doc)
}

package authz

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"
)

// Discovery serves the authorization server metadata (RFC 8414) and the
// OpenID Provider configuration (OpenID Connect Discovery 1.0 §3). Both
// are encoded once.
type Discovery struct {
	oauth, oidc []byte
}

// serverMetadata holds the members both documents share.
type serverMetadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint,omitempty"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported,omitempty"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported,omitempty"`
}

// NewDiscovery builds the documents for issuer, whose tokens are signed
// with alg.
func NewDiscovery(issuer, alg string) (*Discovery, error) {
	clientAuth := []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}
	m := serverMetadata{
		Issuer:                            issuer,
		AuthorizationEndpoint:             issuer + "/v1/oauth/authorize",
		TokenEndpoint:                     issuer + "/v1/oauth/token",
		JWKSURI:                           issuer + "/.well-known/jwks.json",
		IntrospectionEndpoint:             issuer + "/v1/oauth/introspect",
		RevocationEndpoint:                issuer + "/v1/oauth/revoke",
		ScopesSupported:                   bootstrapAdminScopes(),
		ResponseTypesSupported:            []string{"code"},
		GrantTypesSupported:               []string{"client_credentials"},
		TokenEndpointAuthMethodsSupported: clientAuth,
		IntrospectionAuthMethodsSupported: append(clientAuth, "bearer"),
		RevocationAuthMethodsSupported:    append(clientAuth, "bearer"),
		CodeChallengeMethodsSupported:     []string{"S256"},
	}
	oauth, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	m.SubjectTypesSupported = []string{"public"}
	m.IDTokenSigningAlgValuesSupported = []string{alg}
	oidc, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &Discovery{oauth: oauth, oidc: oidc}, nil
}

// Register adds the well-known routes to e.
func (d *Discovery) Register(e *echo.Echo) {
	e.GET("/.well-known/oauth-authorization-server", d.serve(d.oauth))
	e.GET("/.well-known/openid-configuration", d.serve(d.oidc))
}

func (d *Discovery) serve(doc []byte) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=300")
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, doc)
	}
}

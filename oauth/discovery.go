package oauth

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/httpapi"
)

// Discovery serves the authorization server metadata (RFC 8414) at both
// well-known paths, /.well-known/oauth-authorization-server and
// /.well-known/openid-configuration (which OpenID Connect libraries read),
// encoded once. It says only what works: the token, introspection and
// revocation endpoints, the client_credentials grant, the client
// authentication methods the server accepts and the algorithms of their
// assertions, and with the identity provider the authorization endpoint,
// the code and refresh grants, PKCE (S256), ID tokens, userinfo and
// RP-initiated logout, and pushed authorization requests (RFC 9126, not
// required). Members of features this build does not have are absent,
// not empty promises.
type Discovery struct {
	doc []byte
}

// ServerMetadata is the RFC 8414 §2 document.
type ServerMetadata struct {
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
	TokenEndpointAuthSigningAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	IntrospectionAuthSigningAlgs      []string `json:"introspection_endpoint_auth_signing_alg_values_supported"`
	RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	RevocationAuthSigningAlgs         []string `json:"revocation_endpoint_auth_signing_alg_values_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported,omitempty"`
	ResponseModesSupported            []string `json:"response_modes_supported,omitempty"`
	// RFC 9126 §5.
	PushedAuthorizationRequestEndpoint string `json:"pushed_authorization_request_endpoint,omitempty"`
	RequirePushedAuthorizationRequests *bool  `json:"require_pushed_authorization_requests,omitempty"`
	// OpenID Connect Discovery 1.0 §3.
	UserinfoEndpoint      string   `json:"userinfo_endpoint,omitempty"`
	EndSessionEndpoint    string   `json:"end_session_endpoint,omitempty"`
	SubjectTypesSupported []string `json:"subject_types_supported,omitempty"`
	IDTokenSigningAlgs    []string `json:"id_token_signing_alg_values_supported,omitempty"`
	ClaimsSupported       []string `json:"claims_supported,omitempty"`
	PromptValuesSupported []string `json:"prompt_values_supported,omitempty"`
	// RequestParameterSupported and RequestURIParameterSupported are
	// false: no request objects, by value or by reference (OIDC
	// Discovery's default for the latter is true). The request_uri of a
	// pushed request is RFC 9126's, advertised by its endpoint.
	RequestParameterSupported    *bool `json:"request_parameter_supported,omitempty"`
	RequestURIParameterSupported *bool `json:"request_uri_parameter_supported,omitempty"`
	// AuthorizationResponseIssParameterSupported is true: every answer of
	// the authorization endpoint, errors included, carries iss (RFC 9207
	// §3).
	AuthorizationResponseIssParameterSupported *bool `json:"authorization_response_iss_parameter_supported,omitempty"`
}

// CodeFlow is what the identity provider (package idp) adds to the
// metadata when it serves the authorization endpoint.
type CodeFlow struct {
	// Grants are the grants it serves at the token endpoint.
	Grants []string
	// IDTokenAlgs are the algorithms ID tokens may be signed with
	// (GATEHOUSE_ID_TOKEN_ALGS), the default first. OIDC Discovery 1.0 §3:
	// RS256 must be among them.
	IDTokenAlgs []string
}

// IDTokenClaims are the claims of ID tokens and userinfo (sid: the ID
// token's session, which logout's id_token_hint names; no front- or
// back-channel logout is offered, so their metadata is absent).
var IDTokenClaims = []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "email", "name", "tid", "sid"}

// PromptValues are the prompt values of the authorization endpoint: those
// of OpenID Connect Core §3.1.2.1, select_account answered as no prompt
// (a browser session holds one account). Any other is invalid_request.
var PromptValues = []string{"none", "login", "consent", "select_account"}

// ClientAuthMethods are the client authentication methods the token,
// introspection and revocation endpoints accept, by their names in the
// IANA "OAuth Token Endpoint Authentication Methods" registry. "none"
// (public clients) is added for the token endpoint (the code flow is its
// only grant) and the revocation endpoint (RFC 7009 §2.1) when the code
// flow is served; never for introspection, which needs a credential. Introspection and revocation also take an app's
// bearer token, which has no registered name and is documented instead.
var ClientAuthMethods = []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}

// GrantTypes are the grants the token endpoint serves.
var GrantTypes = tokenGrants

// NewDiscovery builds the document of issuer; flow, when not nil,
// advertises the authorization code flow: the authorization endpoint,
// response type code, PKCE S256 only, public clients ("none") at the
// token endpoint, and its grants.
func NewDiscovery(issuer string, flow *CodeFlow) (*Discovery, error) {
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
	if flow != nil {
		m.AuthorizationEndpoint = issuer + "/v1/oauth/authorize"
		m.ResponseTypesSupported = []string{"code"}
		for _, rm := range ResponseModes {
			m.ResponseModesSupported = append(m.ResponseModesSupported, string(rm))
		}
		m.CodeChallengeMethodsSupported = []string{"S256"}
		m.PushedAuthorizationRequestEndpoint = issuer + PARPath
		m.RequirePushedAuthorizationRequests = new(bool)
		m.GrantTypesSupported = append(slices.Clone(GrantTypes), flow.Grants...)
		m.TokenEndpointAuthMethodsSupported = append(slices.Clone(ClientAuthMethods), "none")
		m.RevocationAuthMethodsSupported = m.TokenEndpointAuthMethodsSupported // RFC 7009 §2.1: a public client revokes its own tokens
		m.ScopesSupported = append(OIDCScopes[:len(OIDCScopes):len(OIDCScopes)], m.ScopesSupported...)
		m.UserinfoEndpoint = issuer + "/v1/oauth/userinfo"
		m.EndSessionEndpoint = issuer + "/v1/oauth/logout"
		m.SubjectTypesSupported = []string{"public"}
		m.IDTokenSigningAlgs = slices.Clip(flow.IDTokenAlgs)
		m.ClaimsSupported = IDTokenClaims
		m.PromptValuesSupported = PromptValues
		m.RequestParameterSupported, m.RequestURIParameterSupported = new(bool), new(bool)
		m.AuthorizationResponseIssParameterSupported = new(true)
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
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		httpapi.GetAndHead(e, path, d.serve, httpapi.AnyOrigin)
	}
}

func (d *Discovery) serve(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, d.doc)
}

package oauth

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
)

// Client is an app as fosite sees it: an OAuth 2.0 client whose allowed
// scopes are the app's approved scopes and whose secrets are the app's live
// keyed hashes. It is built from the app's projection (clientStore keeps
// it until the app changes) and never changed afterwards: requests share
// it, so its slices are clipped (an append copies them).
type Client struct {
	AppID      string
	Tenant     string
	ClientID   string
	Grants     []string
	Redirects  []string
	AuthMethod string
	Approved   []string
	// Hashes are the keyed hashes of the secrets live at the time the
	// client was built, newest first.
	Hashes   [][]byte
	TokenTTL time.Duration
	// IDTokenAlg is the app's id_token_signed_response_alg; empty: the
	// server's default.
	IDTokenAlg string
	// JWKS is the app's registered JWK set (private_key_jwt), as given.
	JWKS   json.RawMessage
	Active bool
	// FirstParty marks the console's built-in client (ConsoleClientID):
	// no consent is asked for it.
	FirstParty bool
	// scopes is GetScopes' answer, made once (withScopes): fosite asks
	// for it once per scope of a request.
	scopes []string
}

// withScopes makes c's GetScopes answer (and clips c's slices: a shared
// Client's arrays must not be appended into) and returns c.
func (c *Client) withScopes() *Client {
	c.Grants, c.Redirects, c.Approved, c.Hashes = slices.Clip(c.Grants), slices.Clip(c.Redirects), slices.Clip(c.Approved), slices.Clip(c.Hashes)
	c.scopes = c.Approved
	if slices.Contains(c.Grants, "authorization_code") {
		c.scopes = slices.Clip(append(slices.Clone(c.Approved), OIDCScopes...))
	}
	return c
}

var (
	_ fosite.Client                         = (*Client)(nil)
	_ fosite.ClientWithSecretRotation       = (*Client)(nil)
	_ fosite.OpenIDConnectClient            = (*Client)(nil)
	_ fosite.ClientWithCustomTokenLifespans = (*Client)(nil)
	_ fosite.ResponseModeClient             = (*Client)(nil)
)

// GetID implements fosite.Client.
func (c *Client) GetID() string { return c.ClientID }

// GetHashedSecret implements fosite.Client: the newest live secret.
func (c *Client) GetHashedSecret() []byte {
	if len(c.Hashes) == 0 {
		return nil
	}
	return c.Hashes[0]
}

// GetRotatedHashes implements fosite.ClientWithSecretRotation: the older
// secrets still inside their grace period.
func (c *Client) GetRotatedHashes() [][]byte {
	if len(c.Hashes) < 2 {
		return nil
	}
	return c.Hashes[1:]
}

// GetRedirectURIs implements fosite.Client.
func (c *Client) GetRedirectURIs() []string { return c.Redirects }

// GetGrantTypes implements fosite.Client.
func (c *Client) GetGrantTypes() fosite.Arguments { return c.Grants }

// GetResponseTypes implements fosite.Client: the code flow only.
func (c *Client) GetResponseTypes() fosite.Arguments { return fosite.Arguments{"code"} }

// GetScopes implements fosite.Client: what the client may request, its
// approved scopes and, for a client of the authorization_code grant, the
// OpenID Connect scopes (OIDCScopes).
func (c *Client) GetScopes() fosite.Arguments {
	if c.scopes != nil {
		return c.scopes
	}
	if slices.Contains(c.Grants, "authorization_code") {
		return append(slices.Clone(c.Approved), OIDCScopes...)
	}
	return c.Approved
}

// IsPublic implements fosite.Client.
func (c *Client) IsPublic() bool { return c.AuthMethod == "none" }

// GetAudience implements fosite.Client.
func (c *Client) GetAudience() fosite.Arguments { return nil }

// GetEffectiveLifespan implements fosite.ClientWithCustomTokenLifespans:
// the app's access_token_ttl_seconds for access tokens.
func (c *Client) GetEffectiveLifespan(gt fosite.GrantType, tt fosite.TokenType, fallback time.Duration) time.Duration {
	if tt == fosite.AccessToken && c.TokenTTL > 0 {
		return c.TokenTTL
	}
	return fallback
}

// GetResponseModes implements fosite.ResponseModeClient: a client may ask
// for response_mode=query (OAuth 2.0 Multiple Response Type Encoding
// Practices §2.1), the code flow's default and the one mode discovery
// lists; fosite refuses any other with unsupported_response_mode. Without
// it, fosite refused an explicit query too.
func (c *Client) GetResponseModes() []fosite.ResponseModeType { return ResponseModes }

// ResponseModes are the response modes of the authorization endpoint
// (discovery's response_modes_supported).
var ResponseModes = []fosite.ResponseModeType{fosite.ResponseModeQuery}

// GetRequestURIs implements fosite.OpenIDConnectClient.
func (c *Client) GetRequestURIs() []string { return nil }

// GetJSONWebKeys implements fosite.OpenIDConnectClient (private_key_jwt).
func (c *Client) GetJSONWebKeys() *jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	if len(c.JWKS) == 0 || json.Unmarshal(c.JWKS, &set) != nil {
		return nil
	}
	return &set
}

// GetJSONWebKeysURI implements fosite.OpenIDConnectClient.
func (c *Client) GetJSONWebKeysURI() string { return "" }

// GetRequestObjectSigningAlgorithm implements fosite.OpenIDConnectClient.
func (c *Client) GetRequestObjectSigningAlgorithm() string { return "" }

// GetTokenEndpointAuthMethod implements fosite.OpenIDConnectClient.
func (c *Client) GetTokenEndpointAuthMethod() string { return c.AuthMethod }

// GetTokenEndpointAuthSigningAlgorithm implements
// fosite.OpenIDConnectClient. A client is not bound to one algorithm: its
// assertion may use any of AssertionSigningAlgs that its key supports
// (clientAuthenticator checks it; fosite's default strategy, which reads
// this, is not used).
func (c *Client) GetTokenEndpointAuthSigningAlgorithm() string { return "" }

// decodeHash turns a stored base64 keyed hash into bytes; a malformed one
// matches nothing.
func decodeHash(s string) []byte {
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}

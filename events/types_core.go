package events

import (
	"encoding/json"
	"time"

	"github.com/gatehouse/gatehouse/internal/jsonenc"
)

// This file holds the payloads of the control plane's tenants, apps and the
// bootstrap. Each type's JSON is a persisted contract: testdata/golden holds
// one file per type, and a changed golden file is a visible schema change.

// SystemBootstrapped is appended once, atomically with the default tenant
// and its admin app, on a fresh log. Its presence means "never bootstrap
// again".
type SystemBootstrapped struct {
	Tenant     string `json:"tenant"`
	AdminAppID string `json:"admin_app_id"`
}

// TenantCreated starts a tenant.
type TenantCreated struct {
	Name       string `json:"name"`
	AdminAppID string `json:"admin_app_id"`
}

// ScopeGrant is one scope an app asked for and where its request stands.
type ScopeGrant struct {
	Scope  string      `json:"scope"`
	Status GrantStatus `json:"status"`
}

// AppSettings are an app's client id and the settings its owner chooses
// (API.md "Apps"), as app.created records them: one shape for the event,
// the apps projection's document and the API's App object, which embed
// it (its members stay flat in their JSON). Metadata is not in it: the
// event and the document leave it out when empty, the API always sends
// it.
type AppSettings struct {
	ClientID                string          `json:"client_id"`
	Name                    string          `json:"name"`
	GrantTypes              []string        `json:"grant_types"`
	RedirectURIs            []string        `json:"redirect_uris"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	JWKS                    json.RawMessage `json:"jwks,omitempty"`
	Active                  bool            `json:"active"`
	AccessTokenTTLSeconds   int             `json:"access_token_ttl_seconds"`
	// IDTokenSignedResponseAlg is the algorithm of the app's ID tokens
	// (OIDC Registration 1.0 §2); empty: the server's default, the first
	// of GATEHOUSE_ID_TOKEN_ALGS.
	IDTokenSignedResponseAlg string `json:"id_token_signed_response_alg,omitempty"`
}

// AppCreated registers an integration app. SecretHash is the keyed hash of
// its first client secret, never the secret.
type AppCreated struct {
	AppSettings
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	Scopes     []ScopeGrant    `json:"scopes"`
	SecretID   string          `json:"secret_id,omitempty"`
	SecretHash string          `json:"secret_hash,omitempty"`
}

// AppUpdated carries the new values of the fields a PATCH changed; a nil
// field did not change. A changed TokenEndpointAuthMethod comes with the
// secret events it implies in the same append (app.secret.revoked for each
// live secret when the app leaves the secret methods, app.secret.rotated
// when it joins them without a live secret).
type AppUpdated struct {
	Name                    *string          `json:"name,omitempty"`
	TokenEndpointAuthMethod *string          `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes              *[]string        `json:"grant_types,omitempty"`
	RedirectURIs            *[]string        `json:"redirect_uris,omitempty"`
	JWKS                    *json.RawMessage `json:"jwks,omitempty"`
	Active                  *bool            `json:"active,omitempty"`
	AccessTokenTTLSeconds   *int             `json:"access_token_ttl_seconds,omitempty"`
	Metadata                *json.RawMessage `json:"metadata,omitempty"`
	// IDTokenSignedResponseAlg: see AppSettings.
	IDTokenSignedResponseAlg *string `json:"id_token_signed_response_alg,omitempty"`
}

// AppDeleted ends an app: its tokens die and its webhooks stop.
type AppDeleted struct {
	ClientID string `json:"client_id"`
}

// TokenMinted records an issued access token. It is durable before the
// token is answered; the token itself is never in the log.
type TokenMinted struct {
	JTI       string    `json:"jti"`
	AppID     string    `json:"app_id"`
	ClientID  string    `json:"client_id"`
	Subject   string    `json:"sub"`
	GrantType string    `json:"grant_type"`
	Scopes    []string  `json:"scopes"`
	ExpiresAt time.Time `json:"expires_at"`
}

// AppendJSON appends m as json.Marshal encodes it.
func (m *TokenMinted) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	b = jsonenc.StringMember(b, "jti", m.JTI)
	b = jsonenc.StringMember(b, "app_id", m.AppID)
	b = jsonenc.StringMember(b, "client_id", m.ClientID)
	b = jsonenc.StringMember(b, "sub", m.Subject)
	b = jsonenc.StringMember(b, "grant_type", m.GrantType)
	b = jsonenc.Strings(jsonenc.Member(b, "scopes"), m.Scopes)
	b, err := jsonenc.TimeMember(b, "expires_at", m.ExpiresAt)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// TokenRevoked withdraws one token before it expires (RFC 7009).
type TokenRevoked struct {
	JTI       string    `json:"jti"`
	AppID     string    `json:"app_id"`
	ExpiresAt time.Time `json:"expires_at"`
	// GraceSeconds (schema 2) is how long past ExpiresAt the revocation
	// is kept (GATEHOUSE_REVOCATION_GRACE when it was revoked): more than
	// the clock skew between the instances that verify tokens, so none
	// accepts the token while its own clock finds it unexpired. The
	// projections drop the revocation then, by the log's clock; it is in
	// the event so that a rebuild drops it when the live projection did.
	// 0, and every version 1 event, means DefaultRevocationGrace.
	GraceSeconds int64 `json:"grace_seconds,omitempty"`
}

// DefaultRevocationGrace is how long a revocation outlives its token by
// default (GATEHOUSE_REVOCATION_GRACE), and for version 1 events.
const DefaultRevocationGrace = 5 * time.Minute

// Grace is how long past ExpiresAt the revocation is kept.
func (p TokenRevoked) Grace() time.Duration {
	return secondsOr(p.GraceSeconds, DefaultRevocationGrace)
}

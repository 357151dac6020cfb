package events

import "time"

// This file holds the payloads of the upstream credential vault (API.md
// "Upstream credentials (the vault)", package vault). A credential is the
// aggregate AggCredential on the control stream; its name is claimed in
// the namespace NamespaceCredentialName in the same append as
// credential.created, and each create counts against the tenant's
// credential quota (QuotaCredentials) in that append too.
//
// No payload carries a secret in the clear: the client secret, the
// resource owner's password and every token set are sealed (package
// sealing, purposes "credential-secret" and "credential-tokens") and their
// members end in _sealed, so package redact drops them from everything
// that leaves the server.

// AggCredential is the aggregate type of upstream credentials.
const AggCredential = "credential"

// NamespaceCredentialName is the unique-name namespace of credentials'
// names within a tenant.
const NamespaceCredentialName = "credential-name"

// NamespaceCredentialUserName is the unique-name namespace of a user's
// own credentials (OwnerUserID): the claimed value is
// "<owner user id>/<name>".
const NamespaceCredentialUserName = "credential-user-name"

// QuotaCredentials is the Kind of the credentials-per-tenant quota (the
// owner is the tenant).
const QuotaCredentials = "credentials"

// CredentialStatus is a credential's status as the log records it;
// expiring_soon and expired are derived when it is read (they depend on
// the clock, not on an event).
type CredentialStatus string

// Credential statuses (API.md).
const (
	CredentialStatusPending      CredentialStatus = "pending_authorization"
	CredentialStatusActive       CredentialStatus = "active"
	CredentialStatusExpiringSoon CredentialStatus = "expiring_soon"
	CredentialStatusRevoked      CredentialStatus = "revoked"
	CredentialStatusFailed       CredentialStatus = "failed"
	CredentialStatusExpired      CredentialStatus = "expired"
)

// CredentialCreated registers an upstream credential. The provider's
// URLs and behaviour are copied from its preset (or the request, for
// custom) so a later change of a preset does not rewrite the past.
type CredentialCreated struct {
	Name          string   `json:"name"`
	Provider      string   `json:"provider"`
	GrantType     string   `json:"grant_type"`
	ClientID      string   `json:"client_id"`
	Scopes        []string `json:"scopes"`
	AuthURL       string   `json:"auth_url,omitempty"`
	TokenURL      string   `json:"token_url"`
	RevocationURL string   `json:"revocation_url,omitempty"`
	// ScopeSeparator joins scopes in requests to the provider (" " or ",").
	ScopeSeparator string `json:"scope_separator"`
	PKCE           bool   `json:"pkce"`
	// RotatesRefreshTokens: the provider may answer a refresh with a new
	// refresh token, which then replaces the old one.
	RotatesRefreshTokens bool   `json:"rotates_refresh_tokens"`
	Username             string `json:"username,omitempty"`
	// ClientSecretSealed is the client secret sealed for
	// "<credential id>/client_secret" (empty: none).
	ClientSecretSealed string `json:"client_secret_sealed,omitempty"`
	// PasswordSealed is the resource owner's password (grant password)
	// sealed for "<credential id>/password".
	PasswordSealed       string   `json:"password_sealed,omitempty"`
	BaseURL              string   `json:"base_url,omitempty"`
	CollectionID         string   `json:"collection_id,omitempty"`
	RefreshBeforeSeconds int      `json:"refresh_before_seconds"`
	Exchangeable         bool     `json:"exchangeable"`
	Grants               []string `json:"grants"`
	// MTLSCertificateID is the certificate credential presented at the
	// token endpoint (RFC 8705; empty: none).
	MTLSCertificateID string `json:"mtls_certificate_id,omitempty"`
	// HeaderTemplate is how the proxy injects the access token:
	// "<Header-Name>: <value>" whose value holds "{token}" once; empty:
	// "Authorization: Bearer {token}". Added after schema 1 (optional).
	HeaderTemplate string `json:"header_template,omitempty"`
	// OwnerUserID makes it a user's own credential: only that user's
	// delegated tokens use it, and its name is unique among that user's
	// credentials (namespace NamespaceCredentialUserName). Added after
	// schema 1 (optional; empty: a credential of the tenant).
	OwnerUserID string `json:"owner_user_id,omitempty"`
}

// CredentialUpdated carries the fields a PATCH changed; nil: unchanged.
type CredentialUpdated struct {
	Name                 *string   `json:"name,omitempty"`
	Scopes               *[]string `json:"scopes,omitempty"`
	ClientSecretSealed   *string   `json:"client_secret_sealed,omitempty"`
	BaseURL              *string   `json:"base_url,omitempty"`
	CollectionID         *string   `json:"collection_id,omitempty"`
	RefreshBeforeSeconds *int      `json:"refresh_before_seconds,omitempty"`
	Exchangeable         *bool     `json:"exchangeable,omitempty"`
	Grants               *[]string `json:"grants,omitempty"`
	HeaderTemplate       *string   `json:"header_template,omitempty"`
	// ClientID, AuthURL and TokenURL: the provider side of the
	// credential (auth_url and token_url of provider custom only). Added
	// after schema 1 (optional).
	ClientID *string `json:"client_id,omitempty"`
	AuthURL  *string `json:"auth_url,omitempty"`
	TokenURL *string `json:"token_url,omitempty"`
	// Reauthorize: the change (scopes, secret, client or URLs of an
	// authorization_code or implicit credential) needs a new
	// authorization: the token sets stored so far are no longer used nor
	// refreshed, the status is pending_authorization until the next
	// authorization stores one. Added after schema 1 (optional).
	Reauthorize bool `json:"reauthorize,omitempty"`
	// SupersededThrough: with Reauthorize, the newest version stored
	// before the change, wherever it was stored (the control stream or
	// the credential's refresh state on the high-volume stream): it and
	// every older one are no longer served. Added after schema 1
	// (optional; without it, the control document's last version).
	SupersededThrough int `json:"superseded_through,omitempty"`
}

// CredentialDeleted ends a credential; its name is released and its
// quota slot freed in the same append.
type CredentialDeleted struct {
	Name string `json:"name"`
}

// CredentialRefreshClaimed: Instance will refresh the credential until
// Until; the claim is appended expecting the credential's last event, so
// one instance at a time talks to the provider for it.
type CredentialRefreshClaimed struct {
	Instance string    `json:"instance"`
	Until    time.Time `json:"until"`
	Forced   bool      `json:"forced,omitempty"`
}

// CredentialTokensStored records a token set the provider issued: a new
// version of the credential's tokens, current from now on. Reason is
// "created", "refreshed", "forced" or "authorized".
type CredentialTokensStored struct {
	Version   int        `json:"version"`
	Reason    string     `json:"reason"`
	TokenType string     `json:"token_type"`
	Scopes    []string   `json:"scopes"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// RefreshAt is when the next refresh is due (RefreshBeforeSeconds
	// before ExpiresAt, less a jitter chosen by the writer); nil: never.
	RefreshAt       *time.Time `json:"refresh_at,omitempty"`
	HasRefreshToken bool       `json:"has_refresh_token"`
	// RefreshTokenRotated: the provider issued a new refresh token, which
	// replaced the previous one.
	RefreshTokenRotated bool `json:"refresh_token_rotated,omitempty"`
	// TokensSealed is the token set's JSON (access and refresh token)
	// sealed for "<credential id>/v<version>".
	TokensSealed string `json:"tokens_sealed"`
}

// CredentialRefreshFailed: a refresh failed (the alert
// credential.refresh_failed). NextAttemptAt is the retry (nil: none);
// Failed: the current token set has expired and the credential is now
// failed.
type CredentialRefreshFailed struct {
	Attempt          int        `json:"attempt"`
	Error            string     `json:"error"`
	ErrorDescription string     `json:"error_description,omitempty"`
	NextAttemptAt    *time.Time `json:"next_attempt_at,omitempty"`
	Failed           bool       `json:"failed"`
}

// CredentialRevoked: the provider refused the refresh token
// (invalid_grant); the credential needs reauthorization (the alert
// credential.revoked).
type CredentialRevoked struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// CredentialExpiring: the current token set expires within the refresh
// window and could not be refreshed yet, or will not be (a set no
// refresh replaces: implicit, or no refresh token); the alert
// credential.expiring. Version is the token set's (0 in events written
// before it was recorded): the credential's document keeps it, so the
// alert is appended once per token set whatever instance decides it.
type CredentialExpiring struct {
	ExpiresAt time.Time `json:"expires_at"`
	Version   int       `json:"version,omitempty"`
}

// CredentialRolledBack makes an older, still valid version current.
type CredentialRolledBack struct {
	Version int `json:"version"`
}

var (
	_ = define[CredentialCreated]("credential.created", 1)
	_ = define[CredentialUpdated]("credential.updated", 1)
	_ = define[CredentialDeleted]("credential.deleted", 1)
	_ = define[CredentialRefreshClaimed]("credential.refresh_claimed", 1)
	_ = define[CredentialTokensStored]("credential.tokens_stored", 1)
	_ = define[CredentialRefreshFailed]("credential.refresh_failed", 1)
	_ = define[CredentialRevoked]("credential.revoked", 1)
	_ = define[CredentialExpiring]("credential.expiring", 1)
	_ = define[CredentialRolledBack]("credential.rolled_back", 1)
)

// AggVaultKey is the aggregate of a tenant's vault encryption key (one
// per tenant, id VaultKeyID): the HPKE key pair clients seal a client
// secret to (encrypted_client_secret).
const AggVaultKey = "vaultkey"

// VaultKeyID is the id of a tenant's vault key aggregate.
const VaultKeyID = "current"

// VaultKeyCreated records a tenant's HPKE key pair (RFC 9180): the ids of
// its KEM, KDF and AEAD, the public key (base64url of its serialization)
// and the private key sealed (package sealing, purpose vault-hpke-key,
// record "<tenant>/<kid>").
type VaultKeyCreated struct {
	VaultPublicKey
	PrivateKeySealed string `json:"private_key_sealed"`
}

// VaultPublicKey is the public part of a tenant's HPKE key pair, what a
// client seals to (GET /v1/credentials/encryption-key answers it): the
// RFC 9180 ids, the public key in base64url and the info to seal with.
type VaultPublicKey struct {
	KID       string `json:"kid"`
	KEM       uint16 `json:"kem"`
	KDF       uint16 `json:"kdf"`
	AEAD      uint16 `json:"aead"`
	PublicKey string `json:"public_key"`
	Info      string `json:"info"`
}

var _ = define[VaultKeyCreated]("vault_key.created", 1)

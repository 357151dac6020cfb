package events

import "time"

// This file holds the payloads of the vault's interactive grants
// (authorization_code and implicit towards a provider), of collections
// (a grouping of credentials) and of certificate credentials (a TLS
// client certificate a credential presents at its provider's token
// endpoint, RFC 8705). Package vault writes them; API.md "Upstream
// credentials (the vault)".

// AggCredentialAuth is one authorization of a credential at its
// provider (POST /v1/credentials/{id}/authorize), by the SHA-256 of the
// random part of its state: the log never holds a usable state.
const AggCredentialAuth = "credauth"

// CredentialAuthStarted records a state handed to the provider: the
// credential it authorizes, the grant (authorization_code or implicit),
// the redirect_uri sent, the PKCE code_verifier sealed (purpose
// credential-secret, record "<aggregate id>/code_verifier"; empty: no
// PKCE) and until when the state is accepted.
type CredentialAuthStarted struct {
	CredentialID   string    `json:"credential_id"`
	GrantType      string    `json:"grant_type"`
	RedirectURI    string    `json:"redirect_uri"`
	VerifierSealed string    `json:"verifier_sealed,omitempty"`
	ExpiresAt      time.Time `json:"expires_at"`
	// Settings is a digest of the credential's settings the provider
	// sees (client, secret, URLs, scopes) when the authorization started:
	// the callback refuses the state once they changed. The state's MAC
	// binds it with the tenant, the credential and the event's actor
	// (who started it). Added after schema 1 (optional; empty: a state
	// of before, signed for its random part alone).
	Settings string `json:"settings,omitempty"`
}

// CredentialAuthUsed records the one use of a state (appended expecting
// the state's started event, so a replay, here or on another instance,
// is refused). Outcome is "code" (the code is being exchanged), "token"
// (an implicit grant's fragment) or "error" (the provider answered an
// error, named in Error).
type CredentialAuthUsed struct {
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
}

// AggCollection is a collection of credentials.
const AggCollection = "collection"

// NamespaceCollectionName is the unique-name namespace of collections
// within a tenant.
const NamespaceCollectionName = "collection-name"

// CollectionCreated registers a collection; its name is claimed in
// NamespaceCollectionName in the same append.
type CollectionCreated struct {
	Name string `json:"name"`
}

// CollectionDeleted ends an empty collection (its name released in the
// same append).
type CollectionDeleted struct {
	Name string `json:"name"`
}

// CollectionMemberAdded and CollectionMemberRemoved are appended to the
// collection with every change of a credential's collection_id,
// expecting the collection's last event: a delete, which needs the
// collection empty, then conflicts with a credential joining it.
type CollectionMemberAdded struct {
	CredentialID string `json:"credential_id"`
}

// CollectionMemberRemoved: see CollectionMemberAdded.
type CollectionMemberRemoved struct {
	CredentialID string `json:"credential_id"`
}

// AggCertificate is a certificate credential (its name is claimed in
// NamespaceCredentialName, as every credential's).
const AggCertificate = "credcert"

// CertificateCreated registers a TLS client certificate and its private
// key (PKCS#8 DER sealed, purpose credential-secret, record
// "<certificate id>/private_key"). The certificate chain is public.
type CertificateCreated struct {
	Name             string `json:"name"`
	CertificatePEM   string `json:"certificate_pem"`
	PrivateKeySealed string `json:"private_key_sealed"`
	CertificateDetails
}

// CertificateDetails is what a certificate chain's leaf says of itself,
// read when it is registered: the event's, the projection's and the API's
// (embedded: the members stay flat).
type CertificateDetails struct {
	Subject           string    `json:"subject"`
	Issuer            string    `json:"issuer"`
	SerialNumber      string    `json:"serial_number"`
	NotBefore         time.Time `json:"not_before"`
	NotAfter          time.Time `json:"not_after"`
	FingerprintSHA256 string    `json:"fingerprint_sha256"`
}

// CertificateDeleted ends a certificate no credential uses.
type CertificateDeleted struct {
	Name string `json:"name"`
}

// CertificateUsed and CertificateReleased are appended to the
// certificate when a credential starts or stops presenting it
// (expecting the certificate's last event, as collections' members).
type CertificateUsed struct {
	CredentialID string `json:"credential_id"`
}

// CertificateReleased: see CertificateUsed.
type CertificateReleased struct {
	CredentialID string `json:"credential_id"`
}

var (
	_ = define[CredentialAuthStarted]("credential.authorization_started", 1)
	_ = define[CredentialAuthUsed]("credential.authorization_used", 1)
	_ = define[CollectionCreated]("collection.created", 1)
	_ = define[CollectionDeleted]("collection.deleted", 1)
	_ = define[CollectionMemberAdded]("collection.member_added", 1)
	_ = define[CollectionMemberRemoved]("collection.member_removed", 1)
	_ = define[CertificateCreated]("certificate.created", 1)
	_ = define[CertificateDeleted]("certificate.deleted", 1)
	_ = define[CertificateUsed]("certificate.used", 1)
	_ = define[CertificateReleased]("certificate.released", 1)
)

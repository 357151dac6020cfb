package events_test

import (
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// Samples of the vault's interactive grants, collections and certificate
// credentials (types_credentials_interactive.go), kept beside the
// others' in samples.
func init() {
	created := samples["credential.created"].(events.CredentialCreated)
	created.MTLSCertificateID = "ccrt_1"
	samples["credential.created"] = created
	for name, p := range map[string]events.Payload{
		"credential.authorization_started": events.CredentialAuthStarted{CredentialID: "cred_1", GrantType: "authorization_code",
			RedirectURI: "https://gatehouse.example.com/v1/credentials/callback", VerifierSealed: "v1:c2VhbGVkLXZlcmlmaWVy",
			ExpiresAt: g0.Add(10 * time.Minute), Settings: "0f1e2d3c4b5a69788796a5b4c3d2e1f0"},
		"credential.authorization_used": events.CredentialAuthUsed{Outcome: "error", Error: "access_denied"},
		"collection.created":            events.CollectionCreated{Name: "crm_tools"},
		"collection.deleted":            events.CollectionDeleted{Name: "crm_tools"},
		"collection.member_added":       events.CollectionMemberAdded{CredentialID: "cred_1"},
		"collection.member_removed":     events.CollectionMemberRemoved{CredentialID: "cred_1"},
		"certificate.created": events.CertificateCreated{Name: "client_cert", CertificatePEM: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
			PrivateKeySealed: "v1:c2VhbGVkLWtleQ", CertificateDetails: events.CertificateDetails{Subject: "CN=vault-client", Issuer: "CN=Example CA", SerialNumber: "1a2b",
				NotBefore: g0, NotAfter: g0.Add(365 * 24 * time.Hour), FingerprintSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}},
		"certificate.deleted":  events.CertificateDeleted{Name: "client_cert"},
		"certificate.used":     events.CertificateUsed{CredentialID: "cred_1"},
		"certificate.released": events.CertificateReleased{CredentialID: "cred_1"},
	} {
		samples[name] = p
	}
}

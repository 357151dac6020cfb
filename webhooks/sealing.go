package webhooks

import (
	"github.com/gatehouse/gatehouse/jwks"
	"github.com/gatehouse/gatehouse/projections"
)

// SealKey encrypts the raw HMAC key of webhook secret secretID for the
// log (AES-256-GCM under the master key, bound to the webhook and the
// secret id). Webhook secrets are never in the log in the clear.
func SealKey(masterKey []byte, webhookID, secretID string, raw []byte) (string, error) {
	return jwks.SealBytes(masterKey, webhookID+"/"+secretID, raw)
}

// OpenKey returns the raw HMAC key SealKey sealed.
func OpenKey(masterKey []byte, webhookID string, s projections.WebhookSecret) ([]byte, error) {
	return jwks.OpenBytes(masterKey, webhookID+"/"+s.ID, s.Sealed)
}

package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks 1.0 signing
// (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md,
// "Signature scheme"): the signed content is "{webhook-id}.{webhook-timestamp}.{body}",
// the symmetric signature is "v1,"+base64(HMAC-SHA256(key, content)), and
// several signatures are separated by spaces so that a consumer holding any
// one live secret verifies the request (secret rotation).

// SecretPrefix starts every secret as a consumer sees it.
const SecretPrefix = "whsec_"

// Bounds of a secret's key, as the specification recommends.
const (
	minKey = 24
	maxKey = 64
)

// NewSecret returns a new signing secret as the consumer sees it
// ("whsec_" and the standard base64 of 32 random bytes) and its raw HMAC
// key, the part to keep (sealed) and sign with.
func NewSecret() (secret string, key []byte) {
	key = make([]byte, 32)
	_, _ = rand.Read(key) // never fails (crypto/rand: it crashes the program instead)
	return SecretPrefix + base64.StdEncoding.EncodeToString(key), key
}

// ParseSecret returns the raw HMAC key of a "whsec_…" secret. It refuses a
// secret without the prefix, one that is not standard base64, and one whose
// key is shorter than 24 or longer than 64 bytes.
func ParseSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, errors.New("webhooks: a secret starts with " + SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("webhooks: a secret is " + SecretPrefix + " and standard base64")
	}
	if len(key) < minKey || len(key) > maxKey {
		return nil, errors.New("webhooks: a secret's key is 24 to 64 bytes")
	}
	return key, nil
}

// sigLen is the length of one "v1,<base64 of 32 bytes>" signature.
const sigLen = len("v1,") + 44

// Sign returns the webhook-signature header of a request with that id,
// timestamp (whole unix seconds) and body: one "v1,<signature>" per key,
// in the order of keys, separated by spaces. No key gives "".
func Sign(id string, ts time.Time, body []byte, keys ...[]byte) string {
	if len(keys) == 0 {
		return ""
	}
	prefix := make([]byte, 0, len(id)+22)
	prefix = append(prefix, id...)
	prefix = append(prefix, '.')
	prefix = strconv.AppendInt(prefix, ts.Unix(), 10)
	prefix = append(prefix, '.')
	out := make([]byte, 0, len(keys)*(sigLen+1))
	var sum [sha256.Size]byte
	for i, k := range keys {
		if i > 0 {
			out = append(out, ' ')
		}
		m := hmac.New(sha256.New, k)
		m.Write(prefix)
		m.Write(body)
		out = append(out, "v1,"...)
		out = base64.StdEncoding.AppendEncode(out, m.Sum(sum[:0]))
	}
	return string(out)
}

// Headers returns the Standard Webhooks headers of a request: content-type
// application/json, webhook-id, webhook-timestamp (unix seconds) and
// webhook-signature (Sign).
func Headers(id string, ts time.Time, body []byte, keys ...[]byte) http.Header {
	return http.Header{
		"Content-Type":      {"application/json"},
		"Webhook-Id":        {id},
		"Webhook-Timestamp": {strconv.FormatInt(ts.Unix(), 10)},
		"Webhook-Signature": {Sign(id, ts, body, keys...)},
	}
}

// SecretAAD is the record a webhook secret's raw key is sealed for
// (sealing.WebhookSecret): the webhook and the secret id, so a sealed key
// does not open as another webhook's or another secret's.
func SecretAAD(webhookID, secretID string) string { return webhookID + "/" + secretID }

// Package redact is the one rule for event data that leaves the server:
// the audit feed (authz), webhook deliveries of built-in events (webhooks;
// a published event's data is the publisher's message, delivered as
// published), and every later
// transport (GraphQL) pass an event's data through Data before it goes
// out. API.md: no event shown ever holds a secret, a password or a token
// in the clear.
//
// The rule, at any depth, in objects and in arrays:
//
//   - a member is removed when its name (case-insensitively) is one of
//     secret, client_secret, password, token, access_token, refresh_token,
//     id_token, private_key, api_key, hash, ciphertext or jwks; ends in
//     _hash, _sealed, _enc, _encrypted, _ciphertext, _secret, _password,
//     _token or _key_pem; or starts with private_ or password_;
//   - in an object that is a JWK (it has "kty"), the private members (d, p,
//     q, dp, dq, qi, oth, k) are removed too;
//   - everything else is kept byte for byte; data that needs no change is
//     returned as it is.
//
// The rule is by name, so it holds for data the server did not write
// (apps' metadata; published events in the feed) as for its own payloads (secret_hash,
// secret_sealed, private_key_enc, body_sealed). A new payload member that
// holds server-only material must be named so that Member matches it; the
// tests run the rule over the golden sample of every event type.
//
// It is a package of its own, not part of the catalog, because it is about
// data, not about scopes or event types: it imports nothing of the server,
// so any package that lets event data out can use it.
package redact

import (
	"encoding/json"
	"strings"
)

// Data returns data without server-only material (the package's rule).
// Data that needs no change, or that is not JSON, is returned as it is.
func Data(data json.RawMessage) json.RawMessage {
	out, changed := walk(data)
	if !changed {
		return data
	}
	return out
}

// Member reports whether an object member, by its name, holds material
// only the server may see.
func Member(name string) bool {
	k := strings.ToLower(name)
	switch k {
	case "secret", "client_secret", "password", "token", "access_token", "refresh_token", "id_token",
		"private_key", "api_key", "hash", "ciphertext", "jwks":
		return true
	}
	for _, s := range []string{"_hash", "_sealed", "_enc", "_encrypted", "_ciphertext", "_secret", "_password", "_token", "_key_pem"} {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return strings.HasPrefix(k, "private_") || strings.HasPrefix(k, "password_")
}

// JWKPrivate reports whether name is a private member of a JWK: only its
// owner may see it (RFC 7518 §6.2.2, §6.3.2 and §6.4.1; RFC 8037 §2 for
// OKP "d").
func JWKPrivate(name string) bool { return jwkPrivateMembers[name] }

var jwkPrivateMembers = map[string]bool{"d": true, "p": true, "q": true, "dp": true, "dq": true, "qi": true, "oth": true, "k": true}

// walk redacts one JSON value; changed says whether anything was removed.
func walk(v json.RawMessage) (json.RawMessage, bool) {
	switch firstByte(v) {
	case '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(v, &m) != nil {
			return v, false
		}
		_, jwk := m["kty"]
		changed := false
		for k, x := range m {
			if Member(k) || jwk && JWKPrivate(k) {
				delete(m, k)
				changed = true
			} else if y, ch := walk(x); ch {
				m[k], changed = y, true
			}
		}
		return remarshal(v, m, changed)
	case '[':
		var a []json.RawMessage
		if json.Unmarshal(v, &a) != nil {
			return v, false
		}
		changed := false
		for i, x := range a {
			if y, ch := walk(x); ch {
				a[i], changed = y, true
			}
		}
		return remarshal(v, a, changed)
	}
	return v, false
}

func remarshal(orig json.RawMessage, v any, changed bool) (json.RawMessage, bool) {
	if !changed {
		return orig, false
	}
	out, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{}`), true
	}
	return out, true
}

func firstByte(v []byte) byte {
	for _, b := range v {
		if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
			return b
		}
	}
	return 0
}

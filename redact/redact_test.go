package redact_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/redact"
)

// goldenDir holds one sample event per registered type (events/golden_test.go).
const goldenDir = "../events/testdata/golden"

// TestDataGoldenSamples runs the redaction over the golden
// sample of every registered event type: no member left names server-only
// material, no value of a removed member is left anywhere, every other
// member is kept as it was, and the members known to hold hashes or
// sealed values are among those removed.
func TestDataGoldenSamples(t *testing.T) {
	mustGo := map[string][]string{
		"app.created":            {"secret_hash"},
		"app.secret.rotated":     {"secret_hash"},
		"key.created":            {"private_key_enc"},
		"webhook.created":        {"secret_sealed"},
		"webhook.secret.rotated": {"secret_sealed"},
		"idempotency.completed":  {"body_sealed"},
	}
	for _, typ := range events.Types() {
		t.Run(typ, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(goldenDir, typ+".json"))
			if err != nil {
				t.Fatalf("no golden sample of %s: %v", typ, err)
			}
			var e events.Event
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			out := redact.Data(e.Data)
			var before, after any
			if err := json.Unmarshal(e.Data, &before); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(out, &after); err != nil {
				t.Fatalf("redacted data is not JSON: %v\n%s", err, out)
			}
			var removed []string
			want := strip(before, &removed)
			if !reflect.DeepEqual(after, want) {
				t.Errorf("redacted %s\n got %s\nwant %s", typ, out, mustJSON(t, want))
			}
			for _, k := range mustGo[typ] {
				if !slices.Contains(removed, k) {
					t.Errorf("%s: %s was not removed (removed %v)", typ, k, removed)
				}
			}
			for _, v := range secretValues(before) {
				if strings.Contains(string(out), v) {
					t.Errorf("%s: a removed value %q is still in %s", typ, v, out)
				}
			}
		})
	}
}

// strip is the reference: v without server-only members and JWK private
// members, the removed names appended to removed.
func strip(v any, removed *[]string) any {
	switch v := v.(type) {
	case map[string]any:
		_, jwk := v["kty"]
		out := map[string]any{}
		for k, x := range v {
			if redact.Member(k) || jwk && redact.JWKPrivate(k) {
				*removed = append(*removed, k)
				continue
			}
			out[k] = strip(x, removed)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = strip(x, removed)
		}
		return out
	}
	return v
}

// secretValues are the string values of every server-only member in v.
func secretValues(v any) []string {
	var out []string
	var walk func(any, bool)
	walk = func(v any, secret bool) {
		switch v := v.(type) {
		case map[string]any:
			_, jwk := v["kty"]
			for k, x := range v {
				walk(x, secret || redact.Member(k) || jwk && redact.JWKPrivate(k))
			}
		case []any:
			for _, x := range v {
				walk(x, secret)
			}
		case string:
			if secret && len(v) >= 8 {
				out = append(out, v)
			}
		}
	}
	walk(v, false)
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDataNested: secret-named members and a JWK's private members go at
// any depth, in arrays too; a registered JWK set goes whole; everything
// else (numbers beyond float64's precision included) comes back byte for
// byte.
func TestDataNested(t *testing.T) {
	in := `{"jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"SET-X","y":"SET-Y"}]},` +
		`"public_jwk":{"kty":"EC","crv":"P-256","x":"X","y":"Y","d":"PRIVATE-D"},` +
		`"keys":[{"kty":"RSA","n":"N","e":"AQAB","d":"D","p":"P","q":"Q","dp":"DP","dq":"DQ","qi":"QI"},` +
		`{"kty":"OKP","crv":"Ed25519","x":"OX","d":"OKP-D"},{"kty":"oct","k":"SYMMETRIC"}],` +
		`"metadata":{"deep":[{"client_secret":"cs-1234567890","Password":"pw","note":"kept"}],"secret_id":"sec_1",` +
		`"oauth":{"access_token":"at-1","Refresh_Token":"rt-1","id_token":"it-1","token":"t-1","session_token":"st-1","api_key":"ak-1"}},` +
		`"big":12345678901234567890,"webhook":{"signing_secret":"whsec_x","private_key_pem":"-----BEGIN","secret_hash":"hmac:1","body_sealed":"v1:x"},` +
		`"token_endpoint_auth_method":"client_secret_basic","secret_id":"sec_2","jti":"j1"}`
	out := string(redact.Data(json.RawMessage(in)))
	for _, gone := range []string{"SET-X", "SET-Y", "PRIVATE-D", `"D"`, `"P"`, `"Q"`, "DP", "DQ", "QI", "OKP-D", "SYMMETRIC", "cs-1234567890", `"pw"`,
		"at-1", "rt-1", "it-1", "t-1", "st-1", "ak-1", "whsec_x", "BEGIN", "hmac:1", "v1:x", `"jwks"`} {
		if strings.Contains(out, gone) {
			t.Errorf("%s left in %s", gone, out)
		}
	}
	for _, kept := range []string{`"x":"X"`, `"y":"Y"`, `"n":"N"`, `"e":"AQAB"`, `"x":"OX"`, `"note":"kept"`, `"secret_id":"sec_1"`, `"big":12345678901234567890`,
		`"kty":"oct"`, `"token_endpoint_auth_method":"client_secret_basic"`, `"secret_id":"sec_2"`, `"jti":"j1"`} {
		if !strings.Contains(out, kept) {
			t.Errorf("%s missing from %s", kept, out)
		}
	}
	for _, same := range []string{`{"scope":"a:b","approvals":2}`, `[1,2,{"a":"b"}]`, `"text"`, `null`, `{"d":"not a JWK"}`, `{"tokens":3,"hashed":true}`, `not json`} {
		if got := string(redact.Data(json.RawMessage(same))); got != same {
			t.Errorf("redact.Data(%s) = %s, want it unchanged", same, got)
		}
	}
}

package events

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// envelopeVariants are envelopes decodeEnvelope must decode exactly as
// json.Unmarshal does, or leave to it: the canonical ones, and ones with
// whitespace, escapes, other member orders, a chain, bad numbers and
// trailing bytes.
var envelopeVariants = []string{
	`{"id":"evt_1","type":"app.created","schema":1,"aggregate":{"tenant":"t","type":"app","id":"app_1"},"actor":{"kind":"app","id":"app_2"},"time":"2026-12-06T21:18:25.727556491Z","data":{"a":[1,2,{"b":null}]}}`,
	`{"id":"evt_1","type":"x","schema":0,"aggregate":{"tenant":"t","type":"app","id":"a"},"actor":{"kind":"app","id":"b","via":"jti"},"time":"2026-12-06T21:18:25+01:00","data":null}`,
	`{"id":"evt_1","type":"x","schema":0,"aggregate":{"tenant":"t","type":"app","id":"a"},"actor":{"kind":"app","id":"b","via":"jti","app":"c"},"time":"2026-12-06T21:18:25Z","data":{}}`,
	`{"id":"evt_1","type":"x","schema":0,"aggregate":{"tenant":"t","type":"app","id":"a"},"actor":{"kind":"app","id":"b","on_behalf_of":{"kind":"user","id":"u"}},"time":"2026-12-06T21:18:25Z","data":{}}`,
	`{"id":"evt_\u00e9","type":"x","schema":1,"aggregate":{"tenant":"t","type":"app","id":"a"},"actor":{"kind":"app","id":"b"},"time":"2026-12-06T21:18:25Z","data":{}}`,
	`{"id":"évt","type":"x","schema":1,"aggregate":{"tenant":"t","type":"app","id":"a"},"actor":{"kind":"app","id":"b"},"time":"2026-12-06T21:18:25Z","data":{}}`,
	"{\"id\":\"\xff\",\"type\":\"x\",\"schema\":1,\"aggregate\":{\"tenant\":\"t\",\"type\":\"app\",\"id\":\"a\"},\"actor\":{\"kind\":\"app\",\"id\":\"b\"},\"time\":\"2026-12-06T21:18:25Z\",\"data\":{}}",
	`{"id":"e","type":"x","schema":01,"aggregate":{"tenant":"t","type":"app","id":"a"},"actor":{"kind":"app","id":"b"},"time":"2026-12-06T21:18:25Z","data":{}}`,
	`{"id":"e","type":"x","schema":1e0,"aggregate":{"tenant":"t","type":"app","id":"a"},"actor":{"kind":"app","id":"b"},"time":"2026-12-06T21:18:25Z","data":{}}`,
	`{"id":"e","type":"x","schema":-1,"aggregate":{"tenant":"t","type":"app","id":"a"},"actor":{"kind":"app","id":"b"},"time":"2026-12-06T21:18:25Z","data":{}}`,
	`{"id":"e","type":"x","schema":12345678901,"aggregate":{"tenant":"t","type":"app","id":"a"},"actor":{"kind":"app","id":"b"},"time":"2026-12-06T21:18:25Z","data":{}}`,
	`{"id":"e","type":"x","schema":1,"aggregate":{"tenant":"t","type":"app","id":"a"},"actor":{"kind":"app","id":"b"},"time":"yesterday","data":{}}`,
	`{"id":"e","type":"x","schema":1,"aggregate":{"tenant":"t","type":"app","id":"a"},"actor":{"kind":"app","id":"b"},"time":"2026-12-06T21:18:25Z","data":{}} `,
	`{"id":"e","type":"x","schema":1,"aggregate":{"tenant":"t","type":"app","id":"a"},"actor":{"kind":"app","id":"b"},"time":"2026-12-06T21:18:25Z","data": {}}`,
	`{"id":"e","type":"x","schema":1,"aggregate":{"tenant":"t","type":"app","id":"a"},"actor":{"kind":"app","id":"b"},"time":"2026-12-06T21:18:25Z","data":{}},"x":1}`,
	`{"id":"e","type":"x","schema":1,"aggregate":{"tenant":"t","type":"app","id":"a"},"actor":{"kind":"app","id":"b"},"time":"2026-12-06T21:18:25Z","data":{"a":}}`,
	`{"id":"e","type":"x","schema":1,"aggregate":{"tenant":"t","type":"app","id":"a"},"actor":{"kind":"app","id":"b"},"time":"2026-12-06T21:18:25Z","data":}`,
	`{"type":"x","id":"e","schema":1,"aggregate":{"tenant":"t","type":"app","id":"a"},"actor":{"kind":"app","id":"b"},"time":"2026-12-06T21:18:25Z","data":{}}`,
}

// checkEnvelope fails when decodeEnvelope decodes data other than
// json.Unmarshal does (or decodes what json.Unmarshal refuses), and
// reports whether it took data.
func checkEnvelope(t *testing.T, data []byte) bool {
	t.Helper()
	var fast, slow Event
	ok := decodeEnvelope(data, &fast)
	if !ok {
		return false
	}
	if err := json.Unmarshal(data, &slow); err != nil {
		t.Fatalf("%q: decodeEnvelope took what json.Unmarshal refuses: %v", data, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%q:\ndecodeEnvelope %#v\njson.Unmarshal %#v", data, fast, slow)
	}
	if len(fast.Data) > 0 && &fast.Data[0] == &data[bytes.Index(data, fast.Data)] {
		t.Fatalf("%q: the data member shares the message's bytes", data)
	}
	return true
}

// TestDecodeEnvelope: the envelopes json.Marshal writes take the fast
// path (golden payloads, with and without a Via), and every variant
// decodes as json.Unmarshal decodes it, or is left to it.
func TestDecodeEnvelope(t *testing.T) {
	took := 0
	for _, v := range envelopeVariants {
		if checkEnvelope(t, []byte(v)) {
			took++
		}
	}
	if took != 3 {
		t.Errorf("%d of the variants took the fast path, want 3 (the first two and the unescaped é)", took)
	}
	for _, via := range []string{"", "jti_1"} {
		actor := Actor{Kind: ActorApp, ID: "app_1", Via: via}
		for _, typ := range []string{"app.created", "name.claimed", "token.minted"} {
			env, err := json.Marshal(Event{ID: "evt_1", Type: typ, Schema: 1, Aggregate: Ref{Tenant: "t", Type: "app", ID: "app_1"},
				Actor: actor, Time: time.Now(), Data: json.RawMessage(`{"k":"v","n":[1,2.5,true]}`)})
			if err != nil {
				t.Fatal(err)
			}
			if !checkEnvelope(t, env) {
				t.Errorf("%s was left to json.Unmarshal", env)
			}
		}
	}
}

// FuzzDecodeEnvelope: whatever decodeEnvelope takes, it decodes as
// json.Unmarshal does.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, env := range goldenEnvelopes(f) {
		f.Add(env)
	}
	for _, v := range envelopeVariants {
		f.Add([]byte(v))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkEnvelope(t, data) })
}

// BenchmarkDecodeMsg decodes the message of an app.created as `gatehouse
// bench seed` writes it, as a follower of the log does.
func BenchmarkDecodeMsg(b *testing.B) {
	e := MustNew(Ref{Tenant: "seed", Type: AggApp, ID: "app_seed0000001"}, Actor{Kind: ActorApp, ID: "app_seed_admin"}, time.Now(), &AppCreated{
		AppSettings: AppSettings{ClientID: "cl_seed0000001", Name: "seeded app 1", GrantTypes: []string{"client_credentials"},
			RedirectURIs: []string{}, TokenEndpointAuthMethod: "client_secret_basic", Active: true, AccessTokenTTLSeconds: 3600},
		Scopes:   []ScopeGrant{{Scope: "webhooks:read", Status: GrantApproved}},
		SecretID: "sec_seed0000001", SecretHash: "hmac-sha256:c2VlZGVkIGFwcCBzZWNyZXQgaGFzaA==",
	})
	data, err := json.Marshal(e)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeMsg(Control, 1, data); err != nil {
			b.Fatal(err)
		}
	}
}

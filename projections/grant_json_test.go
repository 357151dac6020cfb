package projections_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// fullGrant has every member of a grant set, with strings json.Marshal
// escapes, a zone other than UTC and sub-second times.
func fullGrant() projections.Grant {
	at := time.Date(2026, 12, 6, 14, 0, 0, 123456789, time.FixedZone("x", 5*3600+30*60))
	rexp := at.Add(30 * 24 * time.Hour)
	return projections.Grant{
		ID: "req-1", Tenant: "tenant-<1>",
		AuthCodeIssued: events.AuthCodeIssued{
			CodeHash: "code\"hash", AppID: "app-1", ClientID: "client-é", UserID: "user-1",
			RequestedScopes: []string{"openid", "a&b"}, GrantedScopes: []string{"openid"},
			RedirectURI: "http://127.0.0.1/cb?x=1&y=<2>", CodeChallenge: "ch", ChallengeMethod: "S256", Nonce: "n\u2028",
			AuthTime: at, RequestedAt: at.Add(time.Millisecond), ExpiresAt: at.Add(time.Minute), SessionID: "sess-<1>",
		},
		Redeemed:         true,
		Tokens:           map[string]time.Time{"jti-b": at.Add(time.Hour), "jti-a": at, "jti-\x01": at.Add(2 * time.Hour)},
		TokensUntil:      at.Add(3 * time.Hour),
		Refresh:          "refresh-1",
		Used:             []string{"used-1", "", "used-2"},
		Rotations:        7,
		RefreshExpiresAt: &rexp,
		LastUsed:         at.Add(time.Second),
		LastJTI:          "jti-b",
		Revoked:          events.GrantRevokedRefreshReuse,
		LastSeq:          1 << 40,
	}
}

// TestGrantAppendJSON: a grant's document is byte for byte what
// json.Marshal writes, for a grant with every member set (a member added
// to Grant or events.AuthCodeIssued fails here until the encoder and
// fullGrant know it), for the zero grant, and for the shapes the
// reducers write (a code just issued, one redeemed, empty and nil
// collections, UTC times).
func TestGrantAppendJSON(t *testing.T) {
	full := fullGrant()
	assertAllSet(t, reflect.ValueOf(full), "Grant")

	utc := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	issued := projections.Grant{ID: "req-2", Tenant: "t", Tokens: map[string]time.Time{},
		AuthCodeIssued: events.AuthCodeIssued{CodeHash: "h", AppID: "a", ClientID: "c", UserID: "u",
			RequestedScopes: []string{}, GrantedScopes: nil, AuthTime: utc, RequestedAt: utc, ExpiresAt: utc.Add(time.Minute)}}
	redeemed := issued
	redeemed.Redeemed, redeemed.LastJTI, redeemed.Refresh, redeemed.LastSeq = true, "jti", "r", 9
	redeemed.RefreshExpiresAt = &utc
	redeemed.Used = []string{}
	cases := map[string]projections.Grant{"full": full, "zero": {}, "issued": issued, "redeemed": redeemed}
	for name, g := range cases {
		appendsAsMarshal(t, name, g)
	}

	bad := full
	bad.LastUsed = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := json.Marshal(bad); err == nil {
		t.Fatal("json.Marshal wrote a year past 9999")
	}
	if _, err := bad.AppendJSON(nil); err == nil {
		t.Error("AppendJSON wrote a year past 9999; json.Marshal refuses it")
	}
}

// assertAllSet fails for any exported field of v (a struct, walked into
// embedded structs) that holds its zero value.
func assertAllSet(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	for i := range v.NumField() {
		f, fv := v.Type().Field(i), v.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Anonymous && fv.Kind() == reflect.Struct {
			assertAllSet(t, fv, path+"."+f.Name)
			continue
		}
		if fv.IsZero() {
			t.Errorf("%s.%s is not set in fullGrant", path, f.Name)
		}
	}
}

// appendsAsMarshal checks that v.AppendJSON writes json.Marshal's bytes,
// into a nil buffer and after a prefix (appending keeps what the buffer
// held), and returns what it wrote into nil and json.Marshal's bytes.
func appendsAsMarshal[V interface{ AppendJSON([]byte) ([]byte, error) }](t *testing.T, name string, v V) (got, want []byte) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	got, err = v.AppendJSON(nil)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", name, got, want)
	}
	prefixed, err := v.AppendJSON([]byte("x"))
	if err != nil || !bytes.Equal(prefixed, append([]byte("x"), want...)) {
		t.Errorf("%s: appended to a prefix: %s, %v", name, prefixed, err)
	}
	return got, want
}

package jsonenc_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/jsonenc"
)

// Strings whose encoding json.Marshal changes (quotes, escapes, HTML
// escaping, control characters, non-ASCII, invalid UTF-8) and some it
// does not.
var samples = []string{"", "plain", "tok_ABC-123.x~", `q"uote`, `back\slash`, "<script>&", "tab\tnew\nline\x01",
	"Zoë Ångström", "日本語", "\u2028\u2029", "bad\xffutf8", "emoji 🙂", "a b+c/d=e"}

func TestStringIsJSONMarshal(t *testing.T) {
	for _, s := range samples {
		want, _ := json.Marshal(s)
		if got := jsonenc.String(nil, s); string(got) != string(want) {
			t.Errorf("String(%q) = %s, json.Marshal %s", s, got, want)
		}
	}
}

func TestStringsIsJSONMarshal(t *testing.T) {
	for _, ss := range [][]string{nil, {}, {"a"}, samples} {
		want, _ := json.Marshal(ss)
		if got := jsonenc.Strings(nil, ss); string(got) != string(want) {
			t.Errorf("Strings(%q) = %s, json.Marshal %s", ss, got, want)
		}
	}
}

// TestArrayIsJSONMarshal: nil is null, empty is [], the elements are
// comma-separated as json.Marshal writes them, and the first error of an
// element is Array's, with no bytes.
func TestArrayIsJSONMarshal(t *testing.T) {
	zone := time.FixedZone("x", 3600)
	elem := func(tm time.Time, b []byte) ([]byte, error) { return jsonenc.Time(b, tm) }
	for _, ts := range [][]time.Time{nil, {}, {time.Unix(1700000000, 0).UTC()},
		{time.Unix(1700000000, 5).In(zone), {}, time.Unix(1, 0).UTC()}} {
		want, _ := json.Marshal(ts)
		got, err := jsonenc.Array([]byte("x"), ts, elem)
		if err != nil || string(got) != "x"+string(want) {
			t.Errorf("Array(%v) = %s, %v; json.Marshal %s", ts, got, err, want)
		}
	}
	bad := []time.Time{{}, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), {}}
	calls := 0
	got, err := jsonenc.Array(nil, bad, func(tm time.Time, b []byte) ([]byte, error) { calls++; return elem(tm, b) })
	if _, wantErr := json.Marshal(bad); err == nil || wantErr == nil || got != nil || calls != 2 {
		t.Errorf("Array of a year past 9999 = %s, %v after %d calls; json.Marshal's error %v", got, err, calls, wantErr)
	}
}

// TestTimeIsJSONMarshal: the bytes of time.Time's MarshalJSON, its
// error for a year it cannot write included.
func TestTimeIsJSONMarshal(t *testing.T) {
	zone := time.FixedZone("x", -(3*3600 + 30*60))
	for _, tm := range []time.Time{{}, time.Unix(1700000000, 0).UTC(), time.Unix(1700000000, 123456789).In(zone),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} {
		want, wantErr := json.Marshal(tm)
		got, err := jsonenc.Time(nil, tm)
		if (err != nil) != (wantErr != nil) || (err == nil && string(got) != string(want)) {
			t.Errorf("Time(%v) = %s, %v; json.Marshal %s, %v", tm, got, err, want, wantErr)
		}
		if err != nil {
			continue
		}
		if got, _ := jsonenc.TimeMember([]byte("{"), "t", tm); string(got) != `{"t":`+string(want) {
			t.Errorf("TimeMember = %s", got)
		}
	}
}

func TestMembers(t *testing.T) {
	b := append([]byte(nil), '{')
	b = jsonenc.StringMember(b, "a", "x")
	b = jsonenc.IntMember(b, "n", -42)
	b = append(jsonenc.Member(b, "o"), '{')
	b = jsonenc.IntMember(b, "m", 7)
	b = append(b, '}', '}')
	want, _ := json.Marshal(struct {
		A string `json:"a"`
		N int    `json:"n"`
		O struct {
			M int `json:"m"`
		} `json:"o"`
	}{A: "x", N: -42, O: struct {
		M int `json:"m"`
	}{7}})
	if string(b) != string(want) {
		t.Errorf("members = %s, json.Marshal %s", b, want)
	}
}

// TestStringEveryByte: each byte value alone and inside a token-like
// string is encoded as json.Marshal encodes it.
func TestStringEveryByte(t *testing.T) {
	for c := range 256 {
		for _, s := range []string{string([]byte{byte(c)}), "eyJhbGci" + string([]byte{byte(c)}) + "OiJFUzI1NiJ9"} {
			want, _ := json.Marshal(s)
			if got := jsonenc.String(nil, s); string(got) != string(want) {
				t.Errorf("String(%q) = %s, json.Marshal %s", s, got, want)
			}
		}
	}
}

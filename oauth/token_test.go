package oauth

import (
	"encoding/json"
	"testing"
)

// TestAppendJSONObject: the token endpoint's answer is encoded as
// json.Marshal encodes the map (members sorted, HTML characters and
// control characters escaped, non-ASCII as encoding/json writes it).
func TestAppendJSONObject(t *testing.T) {
	for _, m := range []map[string]any{
		{},
		{"access_token": "eyJ.a-b_c.d", "token_type": "Bearer", "expires_in": int64(3600), "scope": "openid offline_access x:read",
			"refresh_token": "ory_rt_abc.def", "id_token": "eyJ.x.y"},
		{"n": 7, "b": true, "f": 1.5, "nil": nil, "list": []string{"a", "<b>"}, "obj": map[string]int{"z": 1, "a": 2}},
		{"quote\"key": "a\"b\\c", "html": "<script>&</script>", "ctl": "a\x00b\n\tc\x7f", "utf8": "é日本\u2028", "bad": "\xff"},
	} {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendJSONObject(nil, m)
		if err != nil || string(got) != string(want) {
			t.Errorf("appendJSONObject(%v) = %s, %v; want %s", m, got, err, want)
		}
	}
	if _, err := appendJSONObject(nil, map[string]any{"c": make(chan int)}); err == nil {
		t.Error("a value json.Marshal refuses: no error")
	}
}

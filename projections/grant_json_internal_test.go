package projections

import (
	"encoding/json"
	"testing"
	"time"
)

// TestGrantDocsAppendJSON: the small documents of a grant (an access
// token it issued, a used refresh token) are byte for byte what
// json.Marshal writes, and encodeBody uses their encoder.
func TestGrantDocsAppendJSON(t *testing.T) {
	odd := time.Date(2031, 12, 31, 23, 59, 59, 123456789, time.FixedZone("x", -7*3600))
	cases := []appenderJSON{
		grantToken{}, grantToken{JTI: "j<1>\"é", ExpiresAt: odd}, grantToken{JTI: "jti", ExpiresAt: odd.UTC()},
		usedRefresh{}, usedRefresh{GrantID: "grant&1\u2028"},
	}
	for _, c := range cases {
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.AppendJSON(nil)
		if err != nil || string(got) != string(want) {
			t.Errorf("%T AppendJSON = %s, %v\njson.Marshal = %s", c, got, err, want)
		}
		d := Doc{Kind: "k", ID: "i"}
		if err := encodeBody(&d, c); err != nil || string(d.Body) != string(want) {
			t.Errorf("encodeBody(%T) = %s, %v, want %s", c, d.Body, err, want)
		}
	}
	if _, err := (grantToken{ExpiresAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}).AppendJSON(nil); err == nil {
		t.Error("grantToken.AppendJSON took year 10000")
	}
}

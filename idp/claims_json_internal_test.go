package idp

import (
	"encoding/json"
	"testing"
)

// IDClaims.AppendJSON writes the bytes json.Marshal writes.
func TestIDClaimsAppendJSONIsJSONMarshal(t *testing.T) {
	for _, c := range []IDClaims{
		{},
		{Issuer: "https://gh.example", Subject: "usr_1", Audience: []string{"cli_1"}, IssuedAt: 1700000000, ExpiresAt: 1700003600,
			AuthTime: 1699990000, Nonce: "n-0S6_WzA2Mj", AtHash: "77QmUPtjPfzWtF2AnpK9RQ", Email: "zoë@example.com",
			Name: "Zoë <Admin> & \"co\"", Tenant: "ten_1", AZP: "cli_1", SessionID: "c2Vzc2lvbi1pZA"},
		{Audience: []string{}, Name: "only a name", Tenant: "t"},
		{Nonce: "\u2028", Email: "a@b", AZP: "x"},
		{SessionID: "s<1>"},
	} {
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("AppendJSON = %s\njson.Marshal  %s", got, want)
		}
	}
}

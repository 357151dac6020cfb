package oauth

import (
	"encoding/json"
	"testing"
)

// AccessClaims.AppendJSON writes the bytes json.Marshal writes, so a
// token's payload is what it was when claims went through encoding/json.
func TestAccessClaimsAppendJSONIsJSONMarshal(t *testing.T) {
	for _, c := range []AccessClaims{
		{},
		{Issuer: "https://gh.example", Subject: "usr_1", Audience: []string{"https://gh.example"}, ClientID: "cli_1",
			Scope: "openid offline_access billing:read", JTI: "j1", IssuedAt: 1700000000, ExpiresAt: 1700003600, Tenant: "ten_1"},
		{Issuer: "http://127.0.0.1:8080", Subject: "cli_<&>", Audience: []string{}, ClientID: "cli_\"q\"", JTI: "j2",
			IssuedAt: -1, Tenant: "Zoë", Act: &ActClaim{Subject: "adm", AppID: "app_1", Act: &ActClaim{Subject: "root\n", AppID: "app_0"}}},
		{Audience: []string{"a", "b"}, Act: &ActClaim{}},
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

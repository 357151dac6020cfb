package events_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// The payloads that encode themselves (AppendJSON) write the bytes
// json.Marshal writes: their golden samples, zero values, non-UTC times,
// strings that need escaping, nil and empty lists.
func TestAppendJSONIsJSONMarshal(t *testing.T) {
	paris := time.FixedZone("CEST", 2*3600)
	odd := time.Date(2031, 12, 31, 23, 59, 59, 123456789, paris)
	type appender interface {
		AppendJSON([]byte) ([]byte, error)
	}
	cases := []appender{
		&events.TokenMinted{},
		&events.TokenMinted{JTI: "j<1>", AppID: "app_1", ClientID: "cli\"1", Subject: "Zoë", GrantType: "refresh_token",
			Scopes: []string{"openid", "a&b"}, ExpiresAt: odd},
		&events.TokenMinted{Scopes: []string{}, ExpiresAt: g0},
		&events.AuthCodeRedeemed{},
		&events.AuthCodeRedeemed{JTI: "j", AccessExpiresAt: odd, RefreshHash: "h\n", RefreshExpiresAt: timep(g0)},
		&events.RefreshRotated{},
		&events.RefreshRotated{OldHash: "o", NewHash: "n", JTI: "j", AccessExpiresAt: g0, RefreshExpiresAt: timep(odd)},
		&events.AuthCodeIssued{},
		&events.AuthCodeIssued{CodeHash: "h<1>", AppID: "app_1", ClientID: "cli\"1", UserID: "Zoë", RequestedScopes: []string{"openid", "a&b"},
			GrantedScopes: []string{}, RedirectURI: "http://127.0.0.1/cb?a=1&b=2", CodeChallenge: "c", ChallengeMethod: "S256", Nonce: "n\u2028",
			AuthTime: odd, RequestedAt: g0, ExpiresAt: odd, SessionID: "s<1>\u2028"},
	}
	for _, name := range []string{"token.minted", "authz_code.issued", "authz_code.redeemed", "refresh_token.rotated"} {
		switch p := samples[name].(type) {
		case events.AuthCodeIssued:
			cases = append(cases, &p)
		case events.TokenMinted:
			cases = append(cases, &p)
		case events.AuthCodeRedeemed:
			cases = append(cases, &p)
		case events.RefreshRotated:
			cases = append(cases, &p)
		default:
			t.Fatalf("sample of %s is %T", name, p)
		}
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
	}
	// A time json.Marshal refuses is refused.
	bad := &events.TokenMinted{ExpiresAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := json.Marshal(bad); err == nil {
		t.Fatal("json.Marshal took year 10000")
	}
	if _, err := bad.AppendJSON(nil); err == nil {
		t.Error("AppendJSON took year 10000")
	}
	if _, err := events.New(events.Ref{Tenant: "t", Type: events.AggToken, ID: "a"}, events.Actor{Kind: events.ActorApp, ID: "a"}, g0, bad); err == nil {
		t.Error("events.New took year 10000")
	}
}

package projections_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// fullScope has every member of an AppScope set.
func fullScope(name string, at time.Time) projections.AppScope {
	revoked := at.Add(time.Hour)
	return projections.AppScope{Scope: name, Status: events.GrantApproved, DecidedBy: "adm<1>", DecidedAt: &at,
		Reason: "because & so", Approvals: []string{"adm-1", "adm-\u2029"}, RevokedAt: &revoked}
}

// fullApp has every member of an app set (its scopes', grants' and
// secrets' too), with strings json.Marshal escapes, raw members it
// compacts and escapes, a zone other than UTC and sub-second times.
func fullApp() projections.App {
	at := time.Date(2026, 12, 7, 4, 0, 0, 123456789, time.FixedZone("x", -(3*3600+30*60)))
	exp, killed, deact := at.Add(48*time.Hour), at.Add(2*time.Hour), at.Add(3*time.Hour)
	return projections.App{
		ID: "app-1", Tenant: "tenant-<1>",
		AppSettings: events.AppSettings{ClientID: "client-é", Name: "App \"one\"", GrantTypes: []string{"client_credentials", "authorization_code"},
			RedirectURIs: []string{"http://127.0.0.1/cb?x=1&y=<2>"}, TokenEndpointAuthMethod: "private_key_jwt",
			JWKS: json.RawMessage(`{ "keys": [ {"kty":"OKP", "x":"<&>"} ] }`), Active: true, AccessTokenTTLSeconds: 900, IDTokenSignedResponseAlg: "ES256"},
		Metadata:             json.RawMessage("{\"team\" : \"a\u2028b\"}"),
		Scopes:               []projections.AppScope{fullScope("a:read", at), {Scope: "b:write", Status: events.GrantPending}},
		Grants:               []projections.AppScope{fullScope("authorization_code", at)},
		RedirectURIApprovals: []projections.AppScope{fullScope("http://127.0.0.1/cb?x=1&y=<2>", at)},
		Secrets: []projections.AppSecret{{ID: "sec-1", Hash: "hmac-sha256:x+/=", CreatedAt: at, ExpiresAt: &exp, HeldBy: "user:u-1"},
			{ID: "sec-2", Hash: "h", CreatedAt: at.UTC()}},
		CreatedAt: at, UpdatedAt: at.Add(time.Minute), CreatedBy: "app_admin",
		DeactivatedAt: &deact, CodeFlowKilledAt: &killed,
		Version: 12, LastSeq: 1 << 40,
	}
}

// TestAppAppendJSON: an app's document is byte for byte what json.Marshal
// writes, for an app with every member set (a member added to App,
// events.AppSettings, AppScope or AppSecret fails here until the encoder
// and fullApp know it), for the zero app, and for the shape app.created
// writes (bench seed's app: empty redirect URIs, UTC times), that one in
// a buffer no bigger than json.Marshal's; an invalid
// raw member or a year past 9999 is an error, as it is for json.Marshal.
func TestAppAppendJSON(t *testing.T) {
	full := fullApp()
	assertAllSet(t, reflect.ValueOf(full), "App")
	assertAllSet(t, reflect.ValueOf(full.Scopes[0]), "AppScope")
	assertAllSet(t, reflect.ValueOf(full.Secrets[0]), "AppSecret")

	utc := time.Date(2026, 12, 7, 4, 0, 0, 123456789, time.UTC)
	created := projections.App{ID: "app_seed0000001", Tenant: "seed",
		AppSettings: events.AppSettings{ClientID: "cl_seed0000001", Name: "seeded app 1", GrantTypes: []string{"client_credentials"},
			RedirectURIs: []string{}, TokenEndpointAuthMethod: "client_secret_basic", Active: true, AccessTokenTTLSeconds: 3600},
		Scopes:    []projections.AppScope{{Scope: "webhooks:read", Status: events.GrantApproved}},
		Secrets:   []projections.AppSecret{{ID: "sec_seed0000001", Hash: "hmac-sha256:c2VlZA==", CreatedAt: utc, HeldBy: "app:app_seed_admin"}},
		CreatedAt: utc, UpdatedAt: utc, CreatedBy: "app_seed_admin", Version: 1, LastSeq: 2}
	empty := created
	empty.Scopes = []projections.AppScope{{Scope: "s", Status: events.GrantPending, Approvals: []string{}}}
	empty.Secrets, empty.Grants, empty.RedirectURIApprovals = []projections.AppSecret{}, []projections.AppScope{}, nil
	empty.GrantTypes, empty.RedirectURIs = nil, nil
	empty.Metadata, empty.JWKS = json.RawMessage{}, json.RawMessage{}
	cases := map[string]projections.App{"full": full, "zero": {}, "created": created, "empty": empty}
	for name, a := range cases {
		got, want := appendsAsMarshal(t, name, a)
		// The document keeps the buffer: for the app app.created writes,
		// no bigger than json.Marshal's (the estimate is an upper bound:
		// it may pass it for others).
		if name == "created" && cap(got) > cap(want) {
			t.Errorf("%s: %d bytes in a buffer of %d, json.Marshal's is %d", name, len(got), cap(got), cap(want))
		}
	}

	badRaw := full
	badRaw.Metadata = json.RawMessage(`{"a":`)
	badYear := full
	badYear.Secrets = []projections.AppSecret{{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}
	badScope := full
	at := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	badScope.Grants = []projections.AppScope{{Scope: "s", DecidedAt: &at}}
	for name, a := range map[string]projections.App{"raw": badRaw, "year": badYear, "scope year": badScope} {
		if _, err := json.Marshal(a); err == nil {
			t.Fatalf("%s: json.Marshal wrote it", name)
		}
		if _, err := a.AppendJSON(nil); err == nil {
			t.Errorf("%s: AppendJSON wrote it; json.Marshal refuses it", name)
		}
	}
}

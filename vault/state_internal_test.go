package vault

import (
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// TestStateBoundToInitiator: a state's MAC binds its random part to the
// tenant, the credential, who started it and the credential's settings
// then: the record it was issued with verifies it; the same state
// against a record naming another tenant, credential, initiator or
// settings does not (so a state cannot be completed into anything but
// what it was started for); a change of scopes, secret, client or URLs
// changes the settings digest.
func TestStateBoundToInitiator(t *testing.T) {
	a := &API{Vault: &Vault{StateKey: []byte("0123456789abcdef0123456789abcdef"), Issuer: "https://gh.example"}}
	admin := events.Actor{Kind: "app", ID: "app_admin"}
	cred := projections.Credential{ID: "cred_1", Tenant: "ten_a", GrantType: GrantImplicit, ClientID: "cid",
		AuthURL: "https://provider.example/authorize", Scopes: []string{"read"}, ScopeSeparator: " "}
	start, err := a.newAuthStart(cred, admin, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(start.url)
	random, mac, _ := strings.Cut(u.Query().Get("state"), ".")
	started := start.change.Payload.(*events.CredentialAuthStarted)
	rec := projections.CredentialAuth{ID: start.change.Ref.ID, Tenant: "ten_a", Initiator: admin,
		CredentialAuthStarted: events.CredentialAuthStarted{CredentialID: "cred_1", Settings: started.Settings}}
	if !a.stateSigned(rec, random, mac) {
		t.Fatal("the state does not verify against its own record")
	}
	for name, change := range map[string]func(*projections.CredentialAuth){
		"tenant":     func(r *projections.CredentialAuth) { r.Tenant = "ten_b" },
		"credential": func(r *projections.CredentialAuth) { r.CredentialID = "cred_2" },
		"initiator":  func(r *projections.CredentialAuth) { r.Initiator = events.Actor{Kind: "app", ID: "app_other"} },
		"settings":   func(r *projections.CredentialAuth) { r.Settings = "00" },
	} {
		other := rec
		change(&other)
		if a.stateSigned(other, random, mac) {
			t.Errorf("the state verifies against a record of another %s", name)
		}
	}
	base := settingsDigest(cred)
	for name, change := range map[string]func(*projections.Credential){
		"scopes":    func(c *projections.Credential) { c.Scopes = []string{"read", "write"} },
		"secret":    func(c *projections.Credential) { c.ClientSecretSealed = "sealed2" },
		"client_id": func(c *projections.Credential) { c.ClientID = "cid2" },
		"auth_url":  func(c *projections.Credential) { c.AuthURL = "https://provider.example/v2/authorize" },
		"token_url": func(c *projections.Credential) { c.TokenURL = "https://provider.example/token" },
	} {
		c := cred
		change(&c)
		if settingsDigest(c) == base {
			t.Errorf("a change of %s keeps the settings digest", name)
		}
	}
}

// TestStateMACsKeepTheirFormat: the state MACs are HMAC-SHA256 under the
// state key of the v1 and v2 inputs, as states already handed out carry
// them (the expected values are crypto/hmac's of those inputs, computed
// apart from this package), from concurrent callers sharing the pooled
// MAC.
func TestStateMACsKeepTheirFormat(t *testing.T) {
	v := &Vault{StateKey: []byte("0123456789abcdef0123456789abcdef")}
	initiator := events.Actor{Kind: "app", ID: "app_admin", Via: "jti_1"}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if got, want := v.stateMAC("r4nd0m-part"), "gpUxIADKYz1mm22ipGONrTdYGWgztlLzI1isGy_Wurc"; got != want {
					t.Errorf("v1 MAC %s, want %s", got, want)
					return
				}
				if got, want := v.boundMAC("r4nd0m-part", "ten_a", "cred_1", initiator, "0f1e2d"), "ZNlt1cmEpbBxIU3lOKTqG6yJ6ytGQz23NRNBMb6ZvtI"; got != want {
					t.Errorf("v2 MAC %s, want %s", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

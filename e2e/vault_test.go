package e2e

import (
	"net/http"
	"testing"
	"time"
)

// credentialView is the credential object of API.md "Upstream
// credentials (the vault)".
type credentialView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Status    string     `json:"status"`
	GrantType string     `json:"grant_type"`
	ExpiresAt *time.Time `json:"expires_at"`
	Version   uint64     `json:"version"`
}

type credentialHealth struct {
	Status              string     `json:"status"`
	LastRefreshedAt     *time.Time `json:"last_refreshed_at"`
	ExpiresAt           *time.Time `json:"expires_at"`
	NextRefreshAt       *time.Time `json:"next_refresh_at"`
	RefreshAttempts     int        `json:"refresh_attempts"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastError           *string    `json:"last_error"`
}

type credentialVersion struct {
	Version   int        `json:"version"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	Reason    string     `json:"reason"`
	Current   bool       `json:"current"`
}

// TestVaultAgainstUpstreamGatehouse: a second Gatehouse process is the
// provider (a custom provider pointing at its token endpoint) of a
// client_credentials credential whose upstream app issues 60 s tokens.
// The create fetches a token set before answering; the refresher stores
// the next one before the first expires (no gap: the credential is never
// expired); with the upstream app deleted the refreshes fail until the
// token set expires, the credential is failed, and the
// credential.refresh_failed alert reaches a webhook receiver. The leak
// watch covers the upstream app's secret (recorded from its answer) and
// any upstream token (watchUpstreamTokens).
func TestVaultAgainstUpstreamGatehouse(t *testing.T) {
	t.Parallel()
	up := startServer(t)
	ua := adminAPI(t, up)
	app := ua.createApp(map[string]any{"name": uniqueName(t, "upstream"), "access_token_ttl_seconds": 60})
	vs := startServer(t, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"))
	watchUpstreamTokens(vs)
	va := adminAPI(t, vs)
	rcv := newReceiver(t)
	if r := va.call(http.MethodPost, "/v1/webhooks", map[string]any{"url": rcv.srv.URL,
		"events": []string{"credential.refresh_failed", "credential.revoked", "credential.expiring"}}); r.Status != http.StatusCreated {
		t.Fatalf("webhook: %s", r)
	}

	r := va.call(http.MethodPost, "/v1/credentials", map[string]any{"name": "upstream gatehouse", "provider": "custom",
		"grant_type": "client_credentials", "client_id": app.ClientID, "client_secret": app.ClientSecret,
		"token_url": up.URL + "/v1/oauth/token", "scopes": []string{}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %s", r)
	}
	var c credentialView
	r.decode(t, &c)
	if c.Status != "active" || c.ExpiresAt == nil || time.Until(*c.ExpiresAt) < 45*time.Second || time.Until(*c.ExpiresAt) > 61*time.Second {
		t.Fatalf("created %s", r)
	}
	first := *c.ExpiresAt
	one := "/v1/credentials/" + c.ID
	health := func() credentialHealth {
		t.Helper()
		r := va.call(http.MethodGet, one+"/health", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("health: %s", r)
		}
		var h credentialHealth
		r.decode(t, &h)
		return h
	}

	// Refreshed before the first token set expires, never expired.
	var h credentialHealth
	waitFor(t, 70*time.Second, "a refresh before expiry", func() bool {
		h = health()
		if h.Status == "expired" || h.Status == "failed" {
			t.Fatalf("a gap: %+v", h)
		}
		return h.ExpiresAt != nil && h.ExpiresAt.After(first)
	})
	var vers struct {
		Items []credentialVersion `json:"items"`
	}
	va.call(http.MethodGet, one+"/versions", nil).decode(t, &vers)
	if len(vers.Items) < 2 || !vers.Items[0].Current || vers.Items[0].Reason != "refreshed" || !vers.Items[0].CreatedAt.Before(first) {
		t.Fatalf("versions %+v (first expiry %s)", vers.Items, first)
	}

	// The upstream app deleted: refreshes fail until expiry, then failed.
	if r := ua.call(http.MethodDelete, "/v1/platform/apps/"+app.ID, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete upstream app: %s", r)
	}
	waitFor(t, 100*time.Second, "failed", func() bool { h = health(); return h.Status == "failed" })
	if h.ConsecutiveFailures < 1 || h.LastError == nil || h.NextRefreshAt != nil {
		t.Fatalf("failed health %+v", h)
	}
	waitFor(t, 20*time.Second, "the refresh_failed alert", func() bool {
		for _, g := range rcv.received() {
			if g.Type == "credential.refresh_failed" && g.Data["credential_id"] == c.ID && g.Data["failed"] == true && g.Data["error"] == "invalid_client" {
				return true
			}
		}
		return false
	})
}

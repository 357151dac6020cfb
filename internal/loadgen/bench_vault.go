package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// The vault's refresh figure (issue 15): forced refreshes of upstream
// credentials whose provider is the loaded server itself (a custom
// provider pointing at its own token endpoint; the server needs
// GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true for a loopback token URL). Each
// step is POST /v1/credentials/{id}/refresh: the refresh claim appended,
// a client_credentials token request to the provider (a mint), the new
// token set sealed and appended, the answer after the projections
// applied it. One credential per worker (a credential refreshes one at
// a time: a second forced refresh while one is in flight is 409).

// prepareVaultRefresh makes the provider's app and one credential per
// worker.
func prepareVaultRefresh(ctx context.Context, c *http.Client, cfg benchConfig) (target, error) {
	api, err := newBenchAPI(ctx, c, cfg)
	if err != nil {
		return target{}, fmt.Errorf("vault-refresh: %w", err)
	}
	run := randomHex(6)
	out, err := api.call(ctx, http.MethodPost, "/v1/platform/apps", map[string]any{"name": "bench-vault-provider-" + run}, http.StatusCreated)
	if err != nil {
		return target{}, fmt.Errorf("vault-refresh: the provider's app: %w", err)
	}
	var app struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out, &app); err != nil {
		return target{}, fmt.Errorf("vault-refresh: %w", err)
	}
	pool := make(chan string, cfg.Concurrency)
	for i := range cfg.Concurrency {
		out, err := api.call(ctx, http.MethodPost, "/v1/credentials", map[string]any{"name": fmt.Sprintf("bench-vault-%s-%d", run, i),
			"provider": "custom", "grant_type": "client_credentials", "client_id": app.ClientID, "client_secret": app.ClientSecret,
			"token_url": cfg.URL + tokenPath, "scopes": []string{}}, http.StatusCreated)
		if err != nil {
			return target{}, fmt.Errorf("vault-refresh: a credential (does the server allow loopback token URLs? GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true): %w", err)
		}
		var cred struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(out, &cred); err != nil {
			return target{}, fmt.Errorf("vault-refresh: %w", err)
		}
		pool <- cred.ID
	}
	return target{step: func(ctx context.Context) string {
		var id string
		select {
		case id = <-pool:
		case <-ctx.Done():
			return stepKind(ctx, ctx.Err())
		}
		defer func() { pool <- id }()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL+"/v1/credentials/"+id+"/refresh", nil)
		if err != nil {
			return stepKind(ctx, err)
		}
		req.Header.Set("Authorization", "Bearer "+api.token)
		return answerKind(c.Do(req))(http.StatusOK)
	}}, nil
}

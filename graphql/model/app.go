package model

import "time"

// App is the schema's App, written here rather than generated so that
// webhooks is a method without a context: gqlgen resolves such a field
// in line, where a resolver field costs a goroutine per app of the answer
// (issue 17's profile). The resolver that answers an App gives it its
// webhooks' loader (SetWebhooks): the request's one batched read.
type App struct {
	ID                      string                 `json:"id"`
	ClientID                string                 `json:"client_id"`
	Name                    string                 `json:"name"`
	GrantTypes              []string               `json:"grant_types"`
	RedirectUris            []string               `json:"redirect_uris"`
	TokenEndpointAuthMethod string                 `json:"token_endpoint_auth_method"`
	Jwks                    JSON                   `json:"jwks,omitempty"`
	Active                  bool                   `json:"active"`
	AccessTokenTTLSeconds   int                    `json:"access_token_ttl_seconds"`
	Metadata                JSON                   `json:"metadata"`
	Scopes                  []*ScopeGrant          `json:"scopes"`
	Grants                  []*GrantApproval       `json:"grants"`
	RedirectURIApprovals    []*RedirectURIApproval `json:"redirect_uri_approvals"`
	// Secrets' metadata; a secret itself is never shown again.
	Secrets   []*SecretInfo `json:"secrets"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
	CreatedBy string        `json:"created_by"`
	Version   int           `json:"version"`

	webhooks func(*App) ([]*Webhook, error)
}

// SetWebhooks gives a the loader of its webhooks, called only when the
// operation selects them.
func (a *App) SetWebhooks(load func(*App) ([]*Webhook, error)) { a.webhooks = load }

// Webhooks are the app's webhook subscriptions the caller may read; an
// App without a loader has none to show.
func (a *App) Webhooks() ([]*Webhook, error) {
	if a.webhooks == nil {
		return []*Webhook{}, nil
	}
	return a.webhooks(a)
}

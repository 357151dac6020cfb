package model

import (
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// App is the schema's App, written here rather than generated so that
// webhooks is a method without a context: gqlgen resolves such a field
// in line, where a resolver field costs a goroutine per app of the answer
// (issue 17's profile). The resolver that answers an App gives it its
// webhooks' loader (SetWebhooks): the request's one batched read. Its
// settings are the event's and the REST answer's (events.AppSettings);
// jwks is answered by the method Jwks, as the scalar JSON.
type App struct {
	ID string `json:"id"`
	events.AppSettings
	Metadata             JSON                   `json:"metadata"`
	Scopes               []*ScopeGrant          `json:"scopes"`
	Grants               []*GrantApproval       `json:"grants"`
	RedirectURIApprovals []*RedirectURIApproval `json:"redirect_uri_approvals"`
	// Secrets' metadata; a secret itself is never shown again.
	Secrets   []*SecretInfo `json:"secrets"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
	CreatedBy string        `json:"created_by"`
	Version   int           `json:"version"`

	webhooks func(a *App, first *int) ([]*Webhook, error)
}

// Jwks is the app's JSON Web Key Set (null: none).
func (a *App) Jwks() JSON { return JSON(a.JWKS) }

// IDTokenAlg is the app's id_token_signed_response_alg (null: it names
// none, and the server's default signs its ID tokens).
func (a *App) IDTokenAlg() *string {
	if a.IDTokenSignedResponseAlg == "" {
		return nil
	}
	return &a.IDTokenSignedResponseAlg
}

// SetWebhooks gives a the loader of its webhooks, called only when the
// operation selects them, with the field's argument first.
func (a *App) SetWebhooks(load func(a *App, first *int) ([]*Webhook, error)) { a.webhooks = load }

// Webhooks are the app's webhook subscriptions the caller may read, at
// most first of them (the loader's rule); an App without a loader has
// none to show.
func (a *App) Webhooks(first *int) ([]*Webhook, error) {
	if a.webhooks == nil {
		return []*Webhook{}, nil
	}
	return a.webhooks(a, first)
}

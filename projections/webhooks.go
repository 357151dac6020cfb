package projections

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// KindWebhook is the document kind of webhook subscriptions (API.md
// "Webhooks"), by webhook id; Sort is the creation time, Owner the app
// (ListAppWebhooks).
const KindWebhook = "webhook"

// kindWebhookIndex holds, per "<tenant>/<event type>", the ids of the
// tenant's webhooks subscribed to that type: the dispatcher's fan-out
// reads one document per event, not every subscription of the tenant.
const kindWebhookIndex = "webhook_index"

// Webhook is a subscription as the API shows it, plus its sealed signing
// secrets (never shown).
type Webhook struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	events.WebhookSettings
	Disabled *WebhookDisable `json:"disabled,omitempty"`
	// ActiveSince is when the webhook last started sending to its URL as
	// it is: created, enabled again, or pointed at another URL. A failing
	// streak older than that is the old endpoint's (or the disabled
	// one's), so the dispatcher's "failing every delivery for 5 days"
	// counts from here (zero: written before this field; no bound).
	ActiveSince time.Time `json:"active_since,omitzero"`
	// Subscribed holds, per event type of Events, the control stream
	// sequence of the event from which the webhook receives that type:
	// its creation, its last enabling, or the update that added the type
	// (ReceivesAt). A type missing (a document written before this field)
	// has no bound.
	Subscribed map[string]uint64 `json:"subscribed,omitempty"`
	// Secrets are oldest first; their sealed values must never leave the
	// server.
	Secrets   []WebhookSecret `json:"secrets"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	CreatedBy string          `json:"created_by"`
	Version   uint64          `json:"version"`
	LastSeq   uint64          `json:"last_seq"`
}

// WebhookDisable says why the server disabled a webhook.
type WebhookDisable struct {
	Reason string    `json:"reason"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

// WebhookSecret is one signing secret, sealed with the master key.
type WebhookSecret struct {
	ID        string     `json:"id"`
	Sealed    string     `json:"sealed"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// LiveSecrets returns the secrets that sign at now, oldest first.
func (w Webhook) LiveSecrets(now time.Time) []WebhookSecret {
	out := make([]WebhookSecret, 0, len(w.Secrets))
	for _, s := range w.Secrets {
		if s.ExpiresAt == nil || now.Before(*s.ExpiresAt) {
			out = append(out, s)
		}
	}
	return out
}

// ReceivesAt reports whether w, as it is now, receives an event of type
// typ that follows the control stream up to sequence pos (a built-in
// event's own sequence; a published event's EventPublished.ControlSeq,
// read after its publish began): w is active, subscribes to typ, and did
// so, active, since pos at the latest. A webhook created, enabled again or
// widened to typ after the event receives it not, however late the
// dispatcher gets to the event. pos 0 (unknown: a published event of
// version 1) has no bound.
func (w Webhook) ReceivesAt(typ string, pos uint64) bool {
	return w.Status == events.WebhookStatusActive && slices.Contains(w.Events, typ) && (pos == 0 || w.Subscribed[typ] <= pos)
}

// subscribeFrom records that w receives the types from control sequence
// seq on (all of them when types is nil).
func (w *Webhook) subscribeFrom(seq uint64, types []string) {
	if w.Subscribed == nil {
		w.Subscribed = make(map[string]uint64, len(w.Events))
	}
	if types == nil {
		types = w.Events
	}
	for _, t := range types {
		w.Subscribed[t] = seq
	}
}

func (w Webhook) clone() Webhook {
	w.Events = slices.Clone(w.Events)
	w.Subscribed = maps.Clone(w.Subscribed)
	w.Secrets = slices.Clone(w.Secrets)
	return w
}

var (
	_ = on(applyWebhookCreated)
	_ = on(applyWebhookUpdated)
	_ = on(applyWebhookDeleted)
	_ = on(applyWebhookSecretRotated)
	_ = on(applyWebhookDisabled)
)

func applyWebhookCreated(tx Tx, e events.Event, p *events.WebhookCreated) error {
	w := Webhook{ID: e.Aggregate.ID, Tenant: e.Tenant(), WebhookSettings: p.WebhookSettings, CreatedAt: e.Time, CreatedBy: e.Actor.ID, ActiveSince: e.Time,
		Secrets: []WebhookSecret{{ID: p.SecretID, Sealed: p.SecretSealed, CreatedAt: e.Time}}}
	w.Events = orEmpty(w.Events)
	w.subscribeFrom(e.Seq, nil)
	return putWebhook(tx, e, w, nil)
}

func applyWebhookUpdated(tx Tx, e events.Event, p *events.WebhookUpdated) error {
	w, err := loadWebhook(tx, e)
	if err != nil {
		return err
	}
	old := slices.Clone(w.Events)
	enabled := p.Status != nil && *p.Status == events.WebhookStatusActive && w.Status != events.WebhookStatusActive
	if (p.URL != nil && *p.URL != w.URL) || enabled {
		w.ActiveSince = e.Time
	}
	setIf(&w.URL, p.URL)
	setIf(&w.Events, p.Events)
	setIf(&w.Description, p.Description)
	setIf(&w.Status, p.Status)
	if w.Status == events.WebhookStatusActive {
		w.Disabled = nil
	}
	// Enabled again: every type from now on (nothing sent while it was
	// disabled comes later); else the types added from now on, and the
	// types dropped forgotten. A URL change keeps them: the subscription
	// is the same, its endpoint moved.
	switch {
	case enabled:
		w.subscribeFrom(e.Seq, nil)
	case p.Events != nil:
		w.subscribeFrom(e.Seq, slices.DeleteFunc(slices.Clone(w.Events), func(t string) bool { return slices.Contains(old, t) }))
		maps.DeleteFunc(w.Subscribed, func(t string, _ uint64) bool { return !slices.Contains(w.Events, t) })
	}
	return putWebhook(tx, e, w, old)
}

func applyWebhookDeleted(tx Tx, e events.Event, _ *events.WebhookDeleted) error {
	w, err := loadWebhook(tx, e)
	if err != nil {
		return err
	}
	if err := indexWebhook(tx, w, w.Events, nil); err != nil {
		return err
	}
	return tx.Delete(KindWebhook, w.ID)
}

func applyWebhookSecretRotated(tx Tx, e events.Event, p *events.WebhookSecretRotated) error {
	return change(tx, e, loadWebhook, putSameEvents, func(w *Webhook) {
		w.Secrets = w.LiveSecrets(e.Time)
		end := p.PreviousExpiresAt
		for i := range w.Secrets {
			if s := &w.Secrets[i]; s.ExpiresAt == nil || end.Before(*s.ExpiresAt) {
				s.ExpiresAt = &end
			}
		}
		w.Secrets = append(w.Secrets, WebhookSecret{ID: p.SecretID, Sealed: p.SecretSealed, CreatedAt: e.Time})
	})
}

func applyWebhookDisabled(tx Tx, e events.Event, p *events.WebhookDisabled) error {
	return change(tx, e, loadWebhook, putSameEvents, func(w *Webhook) {
		w.Status = events.WebhookStatusDisabled
		w.Disabled = &WebhookDisable{Reason: p.Reason, Detail: p.Detail, At: e.Time}
	})
}

// putSameEvents is putWebhook of a change that leaves the subscribed
// events as they were.
func putSameEvents(tx Tx, e events.Event, w Webhook) error { return putWebhook(tx, e, w, w.Events) }

func loadWebhook(tx Tx, e events.Event) (Webhook, error) {
	return loadView(tx, e, KindWebhook, Webhook.clone)
}

// putWebhook stores w as of event e; old are the event types it was
// indexed under before (nil for a new webhook).
func putWebhook(tx Tx, e events.Event, w Webhook, old []string) error {
	w.Version++
	w.LastSeq, w.UpdatedAt = e.Seq, e.Time
	if err := indexWebhook(tx, w, old, w.Events); err != nil {
		return err
	}
	return putCached(tx, Doc{Kind: KindWebhook, ID: w.ID, Tenant: w.Tenant, Sort: SortTime(w.CreatedAt), Owner: w.AppID}, w)
}

// webhookIndex is the body of a kindWebhookIndex document.
type webhookIndex struct {
	Webhooks []string `json:"webhooks"`
}

func (ix webhookIndex) clone() webhookIndex {
	ix.Webhooks = slices.Clone(ix.Webhooks)
	return ix
}

// indexWebhook moves w from the index entries of the types in old to
// those in now.
func indexWebhook(tx Tx, w Webhook, old, now []string) error {
	for _, t := range old {
		if !slices.Contains(now, t) {
			if err := changeIndex(tx, w.Tenant, t, func(ids []string) []string {
				return slices.DeleteFunc(ids, func(id string) bool { return id == w.ID })
			}); err != nil {
				return err
			}
		}
	}
	for _, t := range now {
		if !slices.Contains(old, t) {
			if err := changeIndex(tx, w.Tenant, t, func(ids []string) []string {
				if slices.Contains(ids, w.ID) {
					return ids
				}
				return append(ids, w.ID)
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

func changeIndex(tx Tx, tenant, typ string, f func([]string) []string) error {
	id := tenant + "/" + typ
	var ix webhookIndex
	if d, err := peekDoc(tx, kindWebhookIndex, id); err != nil {
		return err
	} else if d != nil {
		if ix, err = decode[webhookIndex](*d); err != nil {
			return err
		}
	}
	ix.Webhooks = f(ix.Webhooks)
	if len(ix.Webhooks) == 0 {
		err := tx.Delete(kindWebhookIndex, id)
		if err != nil && !isNotFound(err) {
			return err
		}
		return nil
	}
	return putJSON(tx, Doc{Kind: kindWebhookIndex, ID: id, Tenant: tenant}, ix)
}

// GetWebhook returns webhook id of tenant; another tenant's is ErrNotFound.
func GetWebhook(ctx context.Context, r Reader, tenant, id string) (Webhook, error) {
	return getTenantView(ctx, r, tenant, KindWebhook, id, Webhook.clone)
}

// ListWebhooks returns a page of tenant's webhooks, oldest first.
func ListWebhooks(ctx context.Context, r Reader, tenant string, p Page) ([]Webhook, string, error) {
	return listCachedViews(ctx, r, KindWebhook, tenant, p, Webhook.clone)
}

// ListAppWebhooks returns a page of the webhooks of app in tenant, oldest
// first: ListWebhooks with the other apps' webhooks left out, read from
// the store's index of the app's webhooks (Doc.Owner), not from the
// tenant's list. A cursor of either list is good for the other.
func ListAppWebhooks(ctx context.Context, r Reader, tenant, app string, p Page) ([]Webhook, string, error) {
	if app == "" {
		return nil, "", nil // no app owns nothing; Owner "" would list them all
	}
	p.Owner = app
	return listCachedViews(ctx, r, KindWebhook, tenant, p, Webhook.clone)
}

// WebhooksFor returns tenant's webhooks subscribed to the event type typ,
// in subscription order (any status: the caller filters).
func WebhooksFor(ctx context.Context, r Reader, tenant, typ string) ([]Webhook, error) {
	ix, _, err := getCachedView(ctx, r, kindWebhookIndex, tenant+"/"+typ, webhookIndex.clone)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]Webhook, 0, len(ix.Webhooks))
	for _, id := range ix.Webhooks {
		w, err := GetWebhook(ctx, r, tenant, id)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

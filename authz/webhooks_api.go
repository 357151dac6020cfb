package authz

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/sealing"
	"github.com/gatehouse/gatehouse/webhooks"
)

// Webhooks serves /v1/webhooks and /v1/events (API.md "Webhooks"):
// subscriptions owned by the app whose token creates them, publishing,
// delivery diagnostics, retries, tests and secret rotation.
type Webhooks struct {
	Deps
	Catalog *catalog.Tenant
	// Publish appends a published event durably, grouped with concurrent
	// ones (a GroupCommitter: packed apart, where the dispatcher's queue
	// finds them); nil: Log.Append.
	Publish func(ctx context.Context, e events.Event) (uint64, error)
	// ControlSeq returns the control stream's last sequence read after
	// the call began (an events.Watermark): a published event carries it,
	// so that subscriptions acknowledged through any instance before the
	// publish are seen by the fan-out. nil: none (the fan-out then waits
	// for what it reads itself).
	ControlSeq func(ctx context.Context) (uint64, error)
	// Dispatcher retries deliveries on demand.
	Dispatcher *webhooks.Dispatcher
	// Secrets seals webhook secrets (sealing.WebhookSecret).
	Secrets *sealing.Sealer
	// AllowPrivate lets webhook URLs resolve to private addresses.
	AllowPrivate bool
	// TestTimeout bounds how long the test endpoint waits for the first
	// attempt (the delivery timeout and a margin).
	TestTimeout time.Duration
	// PerApp caps the webhooks of one app (403 quota_exceeded beyond);
	// 0: DefaultWebhooksPerApp.
	PerApp int
}

// DefaultWebhooksPerApp is the default of Webhooks.PerApp.
const DefaultWebhooksPerApp = 50

// checkQuota refuses a new webhook of the app p acts for when it has
// PerApp already; otherwise it returns the quota.counted event to append
// with the webhook.created (after it) and the version of the app's quota
// aggregate to expect. The counter is read before the webhooks are
// counted, and each create appends its webhook.created before its
// quota.counted: every create up to the version read is in the count, and
// a create after it makes this append conflict (it then decides again),
// so concurrent creates never exceed the cap. The app's webhooks are
// counted from the index of its own (projections.ListAppWebhooks): at
// most limit of them are read, whatever the tenant holds.
func (w *Webhooks) checkQuota(ctx context.Context, p oauth.Principal) (events.Change, events.Expect, error) {
	limit := w.PerApp
	if limit <= 0 {
		limit = DefaultWebhooksPerApp
	}
	q, err := projections.GetQuota(ctx, w.Store, p.Tenant, events.QuotaWebhooks, p.AppID)
	if err != nil {
		return events.Change{}, events.Expect{}, err
	}
	n := 0
	for page := (projections.Page{Limit: min(limit, 500)}); ; {
		hooks, next, err := projections.ListAppWebhooks(ctx, w.Store, p.Tenant, p.AppID, page)
		if err != nil {
			return events.Change{}, events.Expect{}, err
		}
		n += len(hooks)
		if n >= limit {
			return events.Change{}, events.Expect{}, httpapi.QuotaExceeded(fmt.Sprintf("the app has %d webhooks, the most one app may have (GATEHOUSE_WEBHOOKS_PER_APP)", limit))
		}
		if next == "" {
			break
		}
		page.After = next
	}
	ref := events.QuotaRef(p.Tenant, events.QuotaWebhooks, p.AppID)
	return events.Change{Ref: ref, Payload: &events.QuotaCounted{Kind: events.QuotaWebhooks, Owner: p.AppID, Count: n + 1}},
		events.Expect{Ref: ref, Seq: q.LastSeq}, nil
}

// Register adds the routes.
func (w *Webhooks) Register(e *echo.Echo, auth *oauth.Authenticator) {
	g := e.Group("/v1/webhooks")
	g.POST("", HandleBody(w.create), httpapi.NoStore, auth.Require("webhooks:write"), w.Idem.Middleware)
	g.GET("", w.list, auth.Require(ScopeWebhooksRead))
	g.GET("/:id", Handle(w.get), auth.Require("webhooks:read"))
	g.PATCH("/:id", HandleBody(w.patch), auth.Require("webhooks:write"))
	g.DELETE("/:id", Handle(w.delete), auth.Require("webhooks:write"))
	g.POST("/:id/secret/rotate", HandleBody(w.rotate), httpapi.NoStore, auth.Require("webhooks:write"), w.Idem.Middleware)
	g.POST("/:id/test", Handle(w.test), auth.Require("webhooks:write"), w.Idem.Middleware)
	g.GET("/:id/deliveries", Handle(w.deliveries), auth.Require("webhooks:read"))
	g.POST("/:id/deliveries/:delivery_id/retry", Handle(w.retry), auth.Require("webhooks:write"), w.Idem.Middleware)
	e.POST("/v1/events", HandleBody(w.publish), auth.Require("events:publish"), w.Idem.Middleware)
}

// Limits of subscriptions and published events.
const (
	maxWebhookEvents  = 100
	maxPublishedData  = 256 << 10
	maxDedupeID       = 255
	maxWebhookSecrets = 5
)

type webhookRequest struct {
	URL         string   `json:"url"`
	Events      []string `json:"events" maxItems:"100"`
	Description string   `json:"description" text:"multiline"`
}

type webhookPatch struct {
	URL         *string               `json:"url"`
	Events      *[]string             `json:"events" maxItems:"100"`
	Description *string               `json:"description" text:"multiline"`
	Status      *events.WebhookStatus `json:"status"`
}

// WebhookView is the Webhook object.
type WebhookView struct {
	ID string `json:"id"`
	events.WebhookSettings
	DisabledReason string    `json:"disabled_reason,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	Version        uint64    `json:"version"`
}

// webhookCreated is the 201 answer of create: the secret, shown once.
type webhookCreated struct {
	WebhookView
	Secret string `json:"secret"`
}

type rotateWebhookSecret struct {
	GracePeriodSeconds *int `json:"grace_period_seconds"`
}

type webhookSecretRotated struct {
	Secret            string    `json:"secret"`
	PreviousExpiresAt time.Time `json:"previous_expires_at"`
}

type publishRequest struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
	ID   string          `json:"id"`
}

type published struct {
	ID  string `json:"id"`
	Seq uint64 `json:"seq"`
}

// DeliveryView is a webhook delivery with its attempts as the API shows
// it (GET /v1/webhooks/{id}/deliveries; the console's webhook page).
type DeliveryView struct {
	ID            string                `json:"id"`
	EventID       string                `json:"event_id"`
	EventType     string                `json:"event_type"`
	Status        events.DeliveryStatus `json:"status"`
	CreatedAt     time.Time             `json:"created_at"`
	NextAttemptAt *time.Time            `json:"next_attempt_at"`
	Attempts      []DeliveryAttemptView `json:"attempts"`
}

// DeliveryAttemptView is one attempt of a delivery.
type DeliveryAttemptView struct {
	N            int       `json:"n"`
	At           time.Time `json:"at"`
	StatusCode   int       `json:"status_code"`
	DurationMS   int64     `json:"duration_ms"`
	Error        string    `json:"error,omitempty"`
	ResponseBody string    `json:"response_body,omitempty"`
}

func toWebhookJSON(h projections.Webhook) WebhookView {
	out := WebhookView{ID: h.ID, WebhookSettings: h.WebhookSettings, CreatedAt: h.CreatedAt, UpdatedAt: h.UpdatedAt, Version: h.Version}
	if h.Disabled != nil {
		out.DisabledReason = h.Disabled.Reason
	}
	return out
}

func toDeliveryJSON(d projections.Delivery) DeliveryView {
	out := DeliveryView{ID: d.ID, EventID: d.EventID, EventType: d.EventType, Status: d.Status, CreatedAt: d.CreatedAt,
		Attempts: make([]DeliveryAttemptView, len(d.Attempts))}
	if d.Status == events.DeliveryPending || d.Status == events.DeliveryRetrying {
		out.NextAttemptAt = d.NextAttemptAt
	}
	for i, a := range d.Attempts {
		msg := a.Error
		if a.ErrorClass != "" && a.ErrorClass != "http_status" {
			msg = a.ErrorClass + ": " + a.Error
		}
		out.Attempts[i] = DeliveryAttemptView{N: a.N, At: a.At, StatusCode: a.StatusCode, DurationMS: a.DurationMS, Error: msg, ResponseBody: a.ResponseBody}
	}
	return out
}

// checkEvents validates a subscription's event types: in the catalog,
// subscribable, and their scope approved for the app.
func (w *Webhooks) checkEvents(ctx context.Context, p oauth.Principal, types []string, fe *fieldErrs) error {
	if len(types) == 0 {
		fe.add("events", "must name at least one event type")
		return nil
	}
	if len(types) > maxWebhookEvents {
		fe.add("events", "must name at most %d event types", maxWebhookEvents)
		return nil
	}
	app, err := projections.GetApp(ctx, w.Store, p.Tenant, p.AppID)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, t := range types {
		if seen[t] {
			fe.add("events", "names %q twice", t)
			continue
		}
		seen[t] = true
		if t == "webhook.test" {
			fe.add("events", "webhook.test is sent by the test endpoint only; it cannot be subscribed to")
			continue
		}
		et, ok, err := knownEntry(ctx, fe, "events", "event type", p.Tenant, t, w.Catalog.LookupEventType)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if !app.ScopeApproved(et.Scope) {
			pr := httpapi.InsufficientScope(et.Scope)
			pr.Detail = fmt.Sprintf("receiving %s needs the scope %q approved for the app", t, et.Scope)
			return pr
		}
	}
	return nil
}

func (w *Webhooks) checkURL(ctx context.Context, u string, fe *fieldErrs) {
	if err := webhooks.ValidateURL(ctx, u, w.AllowPrivate); err != nil {
		fe.add("url", "%s", err.Error())
	}
}

func (w *Webhooks) create(ctx context.Context, c echo.Context, p oauth.Principal, req webhookRequest) error {
	var fe fieldErrs
	w.checkURL(ctx, req.URL, &fe)
	if utf8.RuneCountInString(req.Description) > maxDescription {
		fe.add("description", "must be at most %d characters", maxDescription)
	}
	if err := w.checkEvents(ctx, p, req.Events, &fe); err != nil {
		return err
	}
	if len(fe) > 0 {
		return httpapi.Validation(fe...)
	}
	id := events.NewID("wh")
	secretID, secret, sealed, err := w.newSecret(id)
	if err != nil {
		return err
	}
	ref := events.Ref{Tenant: p.Tenant, Type: events.AggWebhook, ID: id}
	h, err := w.decide(ctx, p.Tenant, id, func(projections.Webhook) (events.Append, error) {
		counted, quota, err := w.checkQuota(ctx, p)
		if err != nil {
			return events.Append{}, err
		}
		evs, err := events.NewAll(oauth.ActorOf(p), w.Now(), events.Change{Ref: ref, Payload: &events.WebhookCreated{
			WebhookSettings: events.WebhookSettings{AppID: p.AppID, URL: req.URL, Events: slices.Clone(req.Events), Description: req.Description,
				Status: events.WebhookStatusActive}, SecretID: secretID, SecretSealed: sealed}},
			counted)
		return events.Append{Events: evs, Expect: []events.Expect{{Ref: ref}, quota}}, err
	}, true, 0)
	if err != nil {
		return err
	}
	return Versioned(c, http.StatusCreated, h.Version, webhookCreated{WebhookView: toWebhookJSON(h), Secret: secret})
}

// newSecret makes a new signing secret of webhook id: its id, the secret
// shown once, and the secret sealed for the log.
func (w *Webhooks) newSecret(id string) (secretID, secret, sealed string, err error) {
	secretID = events.NewID("whs")
	secret, key := webhooks.NewSecret()
	sealed, err = w.Secrets.Seal(webhooks.SecretAAD(id, secretID), key)
	return secretID, secret, sealed, err
}

// decide appends what d decides on the webhook as it is (new: it does not
// exist yet; otherwise at match, If-Match's version, 0: any), catching up
// and deciding again after a lost race, and returns the webhook as the
// projection then has it.
func (w *Webhooks) decide(ctx context.Context, tenant, id string, d func(projections.Webhook) (events.Append, error), isNew bool, match uint64) (projections.Webhook, error) {
	get := func(ctx context.Context) (projections.Webhook, error) {
		return projections.GetWebhook(ctx, w.Store, tenant, id)
	}
	return Decided(ctx, w.Deps, func(ctx context.Context) (events.Append, error) {
		var cur projections.Webhook
		if !isNew {
			var err error
			if cur, err = Current(ctx, "webhook", get, func(h projections.Webhook) uint64 { return h.Version }, match); err != nil {
				return events.Append{}, err
			}
		}
		return d(cur)
	}, get)
}

// change appends the one event payload decides on webhook id as it is
// now (none when it decides nil: nothing changes), expecting its version (and match, If-Match's version; 0: any),
// caused by p at at.
func (w *Webhooks) change(ctx context.Context, p oauth.Principal, id string, match uint64, at time.Time, payload func(projections.Webhook) (events.Payload, error)) (projections.Webhook, error) {
	ref := events.Ref{Tenant: p.Tenant, Type: events.AggWebhook, ID: id}
	return w.decide(ctx, p.Tenant, id, func(now projections.Webhook) (events.Append, error) {
		pl, err := payload(now)
		if err != nil || pl == nil {
			return events.Append{}, err // nil: nothing to change
		}
		evs, err := events.NewAll(oauth.ActorOf(p), at, events.Change{Ref: ref, Payload: pl})
		return events.Append{Events: evs, Expect: []events.Expect{{Ref: ref, Seq: now.LastSeq}}}, err
	}, false, match)
}

// load reads a webhook the caller may see: its own app's, or any of the
// tenant's with platform:apps:read (mine false), or, to change it (mine
// true), any of an app the caller may manage (mayManage); otherwise 404.
func (w *Webhooks) load(ctx context.Context, p oauth.Principal, id string, mine bool) (projections.Webhook, error) {
	h, err := Load(ctx, "webhook", w.CatchUp, func(ctx context.Context) (projections.Webhook, error) {
		return projections.GetWebhook(ctx, w.Store, p.Tenant, id)
	})
	if err != nil {
		return h, err
	}
	if h.AppID == p.AppID {
		return h, nil
	}
	if !p.Has("platform:apps:read") {
		return h, httpapi.NotFound("webhook")
	}
	if mine {
		// A tenant admin who may manage the owning app (mayManage: its
		// every approved scope) may act on its webhooks: retry, test,
		// rotate (the console's "chase a failing webhook").
		app, err := projections.GetApp(ctx, w.Store, p.Tenant, h.AppID)
		if err != nil || mayManage(p, app) != nil {
			return h, httpapi.NotFound("webhook")
		}
	}
	return h, nil
}

// loadToChange loads the caller's own webhook the request names for a
// change (PATCH, DELETE), and the version its If-Match expects (0: any).
// A subscription is its app's (API.md "Webhooks"): an admin who may
// manage the app retries, tests and rotates its webhooks (load), but
// never re-points or removes them (review r1).
func (w *Webhooks) loadToChange(c echo.Context, p oauth.Principal) (projections.Webhook, uint64, error) {
	h, err := w.load(c.Request().Context(), p, c.Param("id"), true)
	if err != nil {
		return h, 0, err
	}
	if h.AppID != p.AppID {
		return h, 0, httpapi.NotFound("webhook")
	}
	match, err := ifMatch(c, h.Version)
	return h, match, err
}

// loadActive loads the webhook the request names for an action that
// sends to it (a retry, a test delivery): as load with mine, and active;
// a disabled one is a 409 saying disabled.
func (w *Webhooks) loadActive(ctx context.Context, c echo.Context, p oauth.Principal, disabled string) (projections.Webhook, error) {
	h, err := w.load(ctx, p, c.Param("id"), true)
	if err == nil && h.Status != events.WebhookStatusActive {
		err = httpapi.Conflict(disabled)
	}
	return h, err
}

func (w *Webhooks) list(c echo.Context) error { return answerPage(c, w.listWebhooks) }

func (w *Webhooks) get(ctx context.Context, c echo.Context, p oauth.Principal) error {
	h, err := w.load(ctx, p, c.Param("id"), false)
	if err != nil {
		return err
	}
	return Versioned(c, http.StatusOK, h.Version, toWebhookJSON(h))
}

func (w *Webhooks) patch(ctx context.Context, c echo.Context, p oauth.Principal, req webhookPatch) error {
	cur, match, err := w.loadToChange(c, p)
	if err != nil {
		return err
	}
	var fe fieldErrs
	if req.URL != nil {
		w.checkURL(ctx, *req.URL, &fe)
	}
	if req.Events != nil {
		if err := w.checkEvents(ctx, p, *req.Events, &fe); err != nil {
			return err
		}
	}
	if req.Description != nil && utf8.RuneCountInString(*req.Description) > maxDescription {
		fe.add("description", "must be at most %d characters", maxDescription)
	}
	if req.Status != nil && *req.Status != events.WebhookStatusActive && *req.Status != events.WebhookStatusDisabled {
		fe.add("status", "must be active or disabled")
	}
	if len(fe) > 0 {
		return httpapi.Validation(fe...)
	}
	h, err := w.change(ctx, p, cur.ID, match, w.Now(), func(now projections.Webhook) (events.Payload, error) {
		// Only what differs from the webhook as it is now: a PATCH that
		// changes nothing ({}, or the values it has) appends nothing and
		// keeps the version (and so every If-Match that holds it).
		u := events.WebhookUpdated{URL: differs(req.URL, now.URL), Description: differs(req.Description, now.Description),
			Status: differs(req.Status, now.Status)}
		if req.Events != nil && !slices.Equal(*req.Events, now.Events) {
			u.Events = req.Events
		}
		if u == (events.WebhookUpdated{}) {
			return nil, nil
		}
		return &u, nil
	})
	if err != nil {
		return err
	}
	return Versioned(c, http.StatusOK, h.Version, toWebhookJSON(h))
}

func (w *Webhooks) delete(ctx context.Context, c echo.Context, p oauth.Principal) error {
	cur, match, err := w.loadToChange(c, p)
	if err != nil {
		return err
	}
	_, err = w.change(ctx, p, cur.ID, match, w.Now(), func(now projections.Webhook) (events.Payload, error) {
		return &events.WebhookDeleted{AppID: now.AppID}, nil
	})
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (w *Webhooks) rotate(ctx context.Context, c echo.Context, p oauth.Principal, req rotateWebhookSecret) error {
	grace, err := gracePeriod(req.GracePeriodSeconds)
	if err != nil {
		return err
	}
	cur, err := w.load(ctx, p, c.Param("id"), true)
	if err != nil {
		return err
	}
	secretID, secret, sealed, err := w.newSecret(cur.ID)
	if err != nil {
		return err
	}
	now := w.Now()
	prevEnd := now.Add(time.Duration(grace) * time.Second).UTC()
	_, err = w.change(ctx, p, cur.ID, 0, now, func(h projections.Webhook) (events.Payload, error) {
		if live := len(h.LiveSecrets(now)); grace > 0 && live+1 > maxWebhookSecrets {
			return nil, httpapi.Conflict(fmt.Sprintf("the webhook has %d live secrets, the most allowed is %d: rotate with grace_period_seconds 0", live, maxWebhookSecrets))
		}
		return &events.WebhookSecretRotated{SecretID: secretID, SecretSealed: sealed, PreviousExpiresAt: prevEnd}, nil
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, webhookSecretRotated{Secret: secret, PreviousExpiresAt: prevEnd})
}

func (w *Webhooks) deliveries(ctx context.Context, c echo.Context, p oauth.Principal) error {
	page, err := pageParams(c)
	if err != nil {
		return err
	}
	status := events.DeliveryStatus(c.QueryParam("status"))
	if status != "" && !slices.Contains([]events.DeliveryStatus{events.DeliveryPending, events.DeliveryRetrying, events.DeliveryDelivered, events.DeliveryFailed}, status) {
		return httpapi.Validation(httpapi.FieldError{Field: "status", Message: "must be pending, retrying, delivered or failed"})
	}
	h, err := w.load(ctx, p, c.Param("id"), false)
	if err != nil {
		return err
	}
	items, next, err := filteredPage(page, func(pg projections.Page) ([]projections.Delivery, string, error) {
		return projections.ListDeliveries(ctx, w.Store, p.Tenant, h.ID, pg)
	}, func(d projections.Delivery) bool { return status == "" || d.Status == status }, toDeliveryJSON)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, Page[DeliveryView]{Items: items, NextCursor: next})
}

func (w *Webhooks) retry(ctx context.Context, c echo.Context, p oauth.Principal) error {
	h, err := w.loadActive(ctx, c, p, "the webhook is disabled: enable it (PATCH status active) to retry its deliveries")
	if err != nil {
		return err
	}
	id := c.Param("delivery_id")
	err = w.Dispatcher.Retry(ctx, p.Tenant, h.ID, id)
	switch {
	case errors.Is(err, projections.ErrNotFound):
		return httpapi.NotFound("delivery")
	case errors.Is(err, webhooks.ErrNotRetryable):
		return httpapi.Conflict("the delivery was delivered")
	case errors.Is(err, webhooks.ErrBusy):
		return httpapi.Conflict("the delivery is being attempted now").AsRetry()
	case err != nil:
		return err
	}
	d, err := projections.GetDelivery(ctx, w.Store, p.Tenant, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, toDeliveryJSON(d))
}

// test sends webhook.test through the normal path and answers with the
// delivery once its first attempt ended.
func (w *Webhooks) test(ctx context.Context, c echo.Context, p oauth.Principal) error {
	h, err := w.loadActive(ctx, c, p, "the webhook is disabled")
	if err != nil {
		return err
	}
	data, _ := json.Marshal(map[string]string{"webhook_id": h.ID, "message": "a test event from Gatehouse"})
	cs, err := w.controlSeq(ctx)
	if err != nil {
		return err
	}
	ev, err := events.New(events.Ref{Tenant: p.Tenant, Type: events.AggPublished, ID: events.NewID("evt")}, oauth.ActorOf(p), w.Now(),
		&events.EventPublished{Type: "webhook.test", Data: data, AppID: h.AppID, WebhookID: h.ID, ControlSeq: cs})
	if err != nil {
		return err
	}
	ev.ID = ev.Aggregate.ID
	if _, err := w.Log.Append(ctx, events.Append{Events: []events.Event{ev}}); err != nil {
		return err
	}
	id := events.DeliveryID(ev.ID, h.ID)
	ctx, cancel := context.WithTimeout(ctx, w.TestTimeout)
	defer cancel()
	for {
		d, err := projections.GetDelivery(ctx, w.Store, p.Tenant, id)
		if err == nil && len(d.Attempts) > 0 {
			return c.JSON(http.StatusOK, toDeliveryJSON(d))
		}
		if err != nil && !errors.Is(err, projections.ErrNotFound) {
			return err
		}
		select {
		case <-ctx.Done():
			if c.Request().Context().Err() != nil {
				return ctx.Err()
			}
			return httpapi.Unavailable(time.Second, errors.New("the test delivery did not end in time"))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// controlSeq is ControlSeq's answer, 0 without one.
func (w *Webhooks) controlSeq(ctx context.Context) (uint64, error) {
	if w.ControlSeq == nil {
		return 0, nil
	}
	return w.ControlSeq(ctx)
}

func (w *Webhooks) publish(ctx context.Context, c echo.Context, p oauth.Principal, req publishRequest) error {
	var fe fieldErrs
	if et, ok, err := requiredEntry(ctx, &fe, "type", "event type", p.Tenant, req.Type, w.Catalog.LookupEventType); err != nil {
		return err
	} else if ok && et.BuiltIn {
		fe.add("type", "%q is a built-in event type: the server emits it", req.Type)
	}
	data := req.Data
	if len(data) == 0 || string(data) == "null" {
		data = json.RawMessage("{}")
	} else if data[0] != '{' {
		fe.add("data", "must be a JSON object")
	} else if len(data) > maxPublishedData {
		fe.add("data", "must be at most %d bytes", maxPublishedData)
	}
	if len(req.ID) > maxDedupeID {
		fe.add("id", "must be at most %d characters", maxDedupeID)
	}
	if len(fe) > 0 {
		return httpapi.Validation(fe...)
	}
	id := events.NewID("evt")
	dedupe := ""
	if req.ID != "" {
		sum := sha256.Sum256([]byte(p.Tenant + "\x00" + p.AppID + "\x00" + req.ID))
		id = "evt_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:20]))
		dedupe = id
	}
	cs, err := w.controlSeq(ctx)
	if err != nil {
		return err
	}
	ev, err := events.New(events.Ref{Tenant: p.Tenant, Type: events.AggPublished, ID: id}, oauth.ActorOf(p), w.Now(),
		&events.EventPublished{Type: req.Type, Data: data, AppID: p.AppID, DedupeID: req.ID, ControlSeq: cs})
	if err != nil {
		return err
	}
	ev.ID = id
	if dedupe == "" && w.Publish != nil { // no dedupe id: group commit
		seq, err := w.Publish(ctx, ev)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusAccepted, published{ID: id, Seq: seq})
	}
	res, err := w.Log.Append(ctx, events.Append{Events: []events.Event{ev}, DedupeID: dedupe})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, published{ID: id, Seq: res.Last()})
}

// maxFilteredPages bounds the pages a filtered list reads for one answer;
// a sparse filter answers fewer items and a cursor to go on.
const maxFilteredPages = 20

// filteredPage answers one page of a list the caller sees filtered: it
// reads pages of list, keeps what keep accepts, and stops at page.Limit
// items. Each read asks for no more documents than there are free slots,
// so the cursor it returns never skips an item it did not answer.
func filteredPage[V, J any](page projections.Page, list func(projections.Page) ([]V, string, error), keep func(V) bool, render func(V) J) ([]J, string, error) {
	items := []J{}
	next := page.After
	for range maxFilteredPages {
		vs, n, err := list(projections.Page{After: next, Limit: page.Limit - len(items)})
		if errors.Is(err, projections.ErrInvalid) {
			return nil, "", httpapi.Validation(httpapi.FieldError{Field: "cursor", Message: "is not a cursor this list returned"})
		}
		if err != nil {
			return nil, "", err
		}
		for _, v := range vs {
			if keep(v) {
				items = append(items, render(v))
			}
		}
		next = n
		if next == "" || len(items) >= page.Limit {
			break
		}
	}
	return items, next, nil
}

// differs is v when it is given and not cur: a PATCH field that changes
// something.
func differs[T comparable](v *T, cur T) *T {
	if v == nil || *v == cur {
		return nil
	}
	return v
}

package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/ticker"
	"github.com/gatehouse/gatehouse/internal/worker"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/redact"
)

// The dispatcher (DESIGN.md "Webhooks"):
//
//   - Fan-out: every instance consumes the queues "dispatch" of the control
//     stream (app.* and webhook.* events) and of the high-volume stream
//     (published events); each event goes to one instance, which appends
//     one delivery.created per matching active subscription (id
//     events.DeliveryID(event, webhook): a redelivered event creates
//     nothing new) holding a short lease, acknowledges the event, and makes
//     the first attempts itself at once.
//   - Attempts: each is recorded as delivery.attempted with its outcome
//     (delivered, retrying with the next attempt's time, failed). Retries
//     wait in the deliveries projection's schedule, not in unacknowledged
//     messages.
//   - Schedule: every instance looks at the schedule's due entries; to
//     attempt one it appends delivery.claimed expecting the delivery's last
//     claim, so exactly one instance wins each attempt. It claims only
//     what it can start: per webhook, its free slots here (runDue). A
//     lease that ends without an attempt recorded (the instance died)
//     makes the delivery due again: delivery is at least once.

// Outbound, SendResult and Sender: deliver.go.

// Retries gives the wait before the attempt after attemptsSoFar failed
// ones (ok false: give up), honouring a Retry-After the endpoint sent.
type Retries func(attemptsSoFar int, retryAfter time.Duration) (wait time.Duration, ok bool)

// EventTypeScope returns the scope an app needs to receive events of type
// typ in tenant (ok false: not in the catalog).
type EventTypeScope func(ctx context.Context, tenant, typ string) (scope string, ok bool, err error)

// Config wires a Dispatcher.
type Config struct {
	Log   events.Log
	Queue events.Queue
	// Commit appends an independent high-volume event durably (a group
	// committer): deliveries and attempts.
	Commit func(ctx context.Context, e events.Event) (uint64, error)
	Store  projections.Reader
	// WaitFor waits until the projection has applied seq of stream s.
	WaitFor func(ctx context.Context, s events.Stream, seq uint64) error
	Scope   EventTypeScope
	// OpenSecret returns the raw key of a sealed webhook secret.
	OpenSecret func(webhookID string, s projections.WebhookSecret) ([]byte, error)
	Send       Sender
	Retries    Retries
	// Lease is how long an instance holds a delivery for one attempt: more
	// than the HTTP timeout. Default 30s.
	Lease time.Duration
	// Timeout is how long one attempt may take (the Sender's timeout). An
	// attempt starts only while at least that much of its lease is left:
	// one that waited for its webhook's slot longer than Lease - Timeout
	// gives up and is claimed again when the lease ends, so no attempt is
	// cut short by its lease. Default (or not less than Lease): half the Lease.
	Timeout time.Duration
	// DisableAfter disables a webhook whose deliveries all failed for that
	// long. Default 5 days.
	DisableAfter time.Duration
	// PerWebhook bounds the attempts in flight to one webhook (default
	// DefaultPerWebhook), so a slow endpoint never holds the others'
	// deliveries.
	PerWebhook int
	// Keep and Retention are the retention of deliveries, recorded in
	// each delivery.created: the projections keep each webhook's Keep
	// most recent deliveries and drop a delivered or failed one
	// Retention after its last attempt (0: events' defaults).
	Keep      int
	Retention time.Duration
	Instance  string
	Now       func() time.Time
	Logger    *slog.Logger
}

// DefaultPerWebhook is how many attempts to one webhook may be in flight
// at once by default. It bounds one webhook's deliveries per second to
// DefaultPerWebhook divided by the time an attempt takes. With the
// deliver scenario of gatehouse bench (one webhook on loopback) on a
// busy 2-core machine, where an attempt took 2-3 ms, 8 gave 2,500-2,700
// deliveries/s with every slot always taken; 16 gave 3,000-4,100 and 32
// 2,900-3,800, the bound being elsewhere then. The client keeps as many
// idle connections per endpoint (ClientConfig).
const DefaultPerWebhook = 16

// Dispatcher delivers webhooks.
type Dispatcher struct {
	cfg     Config
	group   worker.Group
	ctx     context.Context // the group's
	wake    ticker.Wake
	mu      sync.Mutex
	running map[string]bool          // deliveries attempted here now
	slots   map[string]chan struct{} // per webhook with attempts here now
	users   map[string]int           // attempts here now per webhook: slots' retention
	waiting map[string]bool          // webhooks whose due deliveries the schedule left: all slots taken
	secrets sync.Map                 // webhook id + secret id → raw key
	nsecret atomic.Int64             // entries of secrets (bounded by maxSecrets)

	// dueCursor is where the schedule's next round reads from ("": its
	// start); only the schedule's goroutine uses it.
	dueCursor string

	lastMu   sync.Mutex // one LastSeq request at a time, shared
	lastSeq  uint64
	lastRead time.Time
}

// controlFreshness is how old the control stream's last sequence the
// fan-out waits for may be. Asking the server for it on every event (a
// JetStream API request) bounded the dispatcher at a few hundred events
// per second; a subscription created through this instance is applied
// before its 201 anyway, one created elsewhere is seen within this time.
const controlFreshness = 50 * time.Millisecond

// controlLastSeq returns the control stream's last sequence, asked of the
// server at most once per controlFreshness by all fan-outs together.
func (d *Dispatcher) controlLastSeq(ctx context.Context) (uint64, error) {
	d.lastMu.Lock()
	defer d.lastMu.Unlock()
	if time.Since(d.lastRead) < controlFreshness {
		return d.lastSeq, nil
	}
	seq, err := d.cfg.Log.LastSeq(ctx, events.Control)
	if err != nil {
		return 0, err
	}
	d.lastSeq, d.lastRead = seq, time.Now()
	return seq, nil
}

// New returns a dispatcher; Start runs it.
func New(cfg Config) *Dispatcher {
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Timeout <= 0 || cfg.Timeout >= cfg.Lease {
		cfg.Timeout = cfg.Lease / 2
	}
	if cfg.DisableAfter <= 0 {
		cfg.DisableAfter = 5 * 24 * time.Hour
	}
	if cfg.PerWebhook <= 0 {
		cfg.PerWebhook = DefaultPerWebhook
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Instance == "" {
		cfg.Instance = events.NewID("inst")
	}
	return &Dispatcher{cfg: cfg, running: map[string]bool{}, slots: map[string]chan struct{}{}, users: map[string]int{}, waiting: map[string]bool{}}
}

// Queue names and what they select.
const queueName = "dispatch"

var (
	controlTypes    = []string{events.AggApp, events.AggWebhook, events.AggUser, events.AggCredential}
	highVolumeTypes = []string{events.AggPublished}
)

// Start consumes the queues and runs the schedule until Close (ctx
// bounds the start only: the dispatcher outlives it, so that deliveries
// go on while the HTTP server drains). It returns once both queues'
// consumers exist, so an event published after it is delivered; ctx's
// error if ctx ends first.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.ctx = d.group.Start(ctx)
	ready := make(chan struct{})
	var once sync.WaitGroup
	once.Add(2)
	go func() { once.Wait(); close(ready) }()
	for _, q := range []struct {
		s     events.Stream
		types []string
	}{{events.Control, controlTypes}, {events.HighVolume, highVolumeTypes}} {
		var first sync.Once
		cfg := events.QueueConfig{Name: queueName, Stream: q.s, Types: q.types, Started: func() { first.Do(once.Done) }}
		d.group.Go(func() {
			err := d.cfg.Queue.Consume(d.ctx, cfg, d.fanOut)
			if err != nil && d.ctx.Err() == nil {
				d.cfg.Logger.Error("webhook queue stopped", "stream", q.s, "err", err)
			}
		})
	}
	d.group.Go(d.schedule)
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the dispatcher and waits for attempts in flight.
func (d *Dispatcher) Close() error { return d.group.Close() }

// kick makes the schedule look again now.
func (d *Dispatcher) kick() { d.wake.Kick() }

// outgoing is a log event as webhooks see it.
type outgoing struct {
	typ    string
	appID  string // the app the event is about or from
	target string // a single webhook (the test endpoint)
	data   json.RawMessage
	// controlSeq: the subscriptions to consider are those of the control
	// stream up to it (0: unknown).
	controlSeq uint64
}

// deliverable maps a log event to what subscribers receive, or false when
// the event is not one subscribers can receive.
func deliverable(e events.Event) (outgoing, bool, error) {
	p, err := events.Decode(e)
	if err != nil {
		return outgoing{}, false, err
	}
	switch p := p.(type) {
	case *events.EventPublished:
		return outgoing{typ: p.Type, appID: p.AppID, target: p.WebhookID, data: p.Data, controlSeq: p.ControlSeq}, true, nil
	case *events.CredentialRefreshFailed, *events.CredentialRevoked, *events.CredentialExpiring:
		// The vault's alerts (built-in types of scope credentials:read).
		data, err := PublicData(e)
		return outgoing{typ: e.Type, data: data}, err == nil, err
	case *events.WebhookDisabled:
		data, err := json.Marshal(map[string]string{"webhook_id": e.Aggregate.ID, "app_id": p.AppID, "url": p.URL, "reason": p.Reason, "detail": p.Detail})
		return outgoing{typ: e.Type, appID: p.AppID, data: data}, err == nil, err
	}
	var appID string
	switch {
	case catalog.AppEvent(e.Type):
		appID = e.Aggregate.ID
	case catalog.UserEvent(e.Type):
	default:
		return outgoing{}, false, nil
	}
	data, err := PublicData(e)
	if err != nil {
		return outgoing{}, false, err
	}
	return outgoing{typ: e.Type, appID: appID, data: data}, true, nil
}

// PublicData is the data subscribers receive for a built-in event: its
// payload redacted (package redact, the rule of all event data leaving the
// server: a user's sealed password hash never does), plus the id of the
// app (app_id), user (user_id) or upstream credential (credential_id) it
// is about.
func PublicData(e events.Event) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(redact.Data(e.Data), &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]json.RawMessage{} // an empty payload (user.disabled)
	}
	key := map[string]string{events.AggApp: "app_id", events.AggUser: "user_id", events.AggCredential: "credential_id"}[e.Aggregate.Type]
	if key != "" {
		id, err := json.Marshal(e.Aggregate.ID)
		if err != nil {
			return nil, err
		}
		m[key] = id
	}
	return json.Marshal(m)
}

// body is the JSON a delivery POSTs (Standard Webhooks payload).
type body struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// fanOut turns one queued event into deliveries and starts their first
// attempts. It fails (and the event comes back) only when the deliveries
// could not be made durable.
func (d *Dispatcher) fanOut(ctx context.Context, e events.Event, redelivered bool) error {
	out, ok, err := deliverable(e)
	if err != nil {
		d.cfg.Logger.Error("webhook fan-out: undecodable event", "event", e.ID, "type", e.Type, "err", err)
		return nil // it will never decode: do not block the queue with it
	}
	if !ok {
		return nil
	}
	// Subscriptions live on the control stream: see every one appended
	// before this event. A control-stream event knows its place in it; a
	// published one carries the control stream's last sequence read after
	// its publish began; older published events fall back to a recent
	// read (as of controlFreshness). That place (pos) is also the bound of
	// the subscriptions that receive the event: those made (enabled,
	// widened to its type) after it do not (Webhook.ReceivesAt), whenever
	// the fan-out runs.
	pos := out.controlSeq
	if e.Stream == events.Control {
		pos = e.Seq
	}
	last := pos
	if last == 0 {
		if last, err = d.controlLastSeq(ctx); err != nil {
			return err
		}
	}
	if err := d.cfg.WaitFor(ctx, events.Control, last); err != nil {
		return err
	}
	if redelivered {
		if last, err := d.cfg.Log.LastSeq(ctx, events.HighVolume); err != nil {
			return err
		} else if err := d.cfg.WaitFor(ctx, events.HighVolume, last); err != nil {
			return err
		}
	}
	subs, err := d.subscribers(ctx, e.Tenant(), out, pos)
	if err != nil {
		return err
	}
	if len(subs) == 0 {
		return nil
	}
	payload, err := json.Marshal(body{Type: out.typ, Timestamp: e.Time.UTC(), Data: out.data})
	if err != nil {
		return err
	}
	now := d.cfg.Now()
	lease := now.Add(d.cfg.Lease)
	type created struct {
		delivery projections.Delivery
		webhook  projections.Webhook
	}
	var todo []created
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(subs))
	for i, s := range subs {
		id := events.DeliveryID(e.ID, s.webhook.ID)
		if redelivered {
			if _, err := projections.GetDelivery(ctx, d.cfg.Store, e.Tenant(), id); err == nil {
				continue // made before the event came back
			}
		}
		dc := &events.DeliveryCreated{WebhookID: s.webhook.ID, AppID: s.webhook.AppID, EventID: e.ID, Type: out.typ,
			Scope: s.scope, Body: payload, LeaseUntil: lease, Instance: d.cfg.Instance,
			Keep: d.cfg.Keep, RetainSeconds: int64(d.cfg.Retention / time.Second)}
		ev, err := events.New(events.Ref{Tenant: e.Tenant(), Type: events.AggDelivery, ID: id}, events.System, now, dc)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() { // group commit: all of them in one append
			defer wg.Done()
			if _, err := d.cfg.Commit(ctx, ev); err != nil {
				errs[i] = err
				return
			}
			mu.Lock()
			todo = append(todo, created{projections.Delivery{ID: id, Tenant: e.Tenant(), WebhookID: s.webhook.ID, AppID: s.webhook.AppID,
				EventID: e.ID, EventType: out.typ, Scope: s.scope, Body: payload, LeaseUntil: lease}, s.webhook})
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, c := range todo {
		d.startAttempt(c.delivery, 1, c.delivery.LeaseUntil)
	}
	return errors.Join(errs...)
}

type subscriber struct {
	webhook projections.Webhook
	scope   string
}

// subscribers are the active webhooks of tenant that receive out, placed
// at pos of the control stream (Webhook.ReceivesAt), with the scope their
// app needs for it. The test event's webhook (out.target) receives it if
// it is active.
func (d *Dispatcher) subscribers(ctx context.Context, tenant string, out outgoing, pos uint64) ([]subscriber, error) {
	if out.target != "" {
		w, err := projections.GetWebhook(ctx, d.cfg.Store, tenant, out.target)
		if errors.Is(err, projections.ErrNotFound) {
			return nil, nil
		}
		if err != nil || w.Status != events.WebhookStatusActive {
			return nil, err
		}
		return []subscriber{{webhook: w}}, nil
	}
	scope, ok, err := d.cfg.Scope(ctx, tenant, out.typ)
	if err != nil || !ok {
		return nil, err
	}
	hooks, err := projections.WebhooksFor(ctx, d.cfg.Store, tenant, out.typ)
	if err != nil {
		return nil, err
	}
	var subs []subscriber
	for _, w := range hooks {
		if !w.ReceivesAt(out.typ, pos) {
			continue
		}
		if ok, err := d.permitted(ctx, tenant, w.AppID, scope); err != nil {
			return nil, err
		} else if ok {
			subs = append(subs, subscriber{webhook: w, scope: scope})
		}
	}
	return subs, nil
}

// permitted reports whether the app exists, is active and holds scope
// ("" needs nothing) now.
func (d *Dispatcher) permitted(ctx context.Context, tenant, appID, scope string) (bool, error) {
	app, err := projections.GetApp(ctx, d.cfg.Store, tenant, appID)
	if errors.Is(err, projections.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return app.Active && (scope == "" || app.ScopeApproved(scope)), nil
}

// startAttempt runs attempt n of del in the background while this
// instance holds it (until lease), once a slot of its webhook is free
// while at least Config.Timeout of the lease is left.
func (d *Dispatcher) startAttempt(del projections.Delivery, n int, lease time.Time) {
	d.mu.Lock()
	if d.running[del.ID] || d.ctx.Err() != nil {
		d.mu.Unlock()
		return
	}
	d.running[del.ID] = true
	slot, ok := d.slots[del.WebhookID]
	if !ok {
		slot = make(chan struct{}, d.cfg.PerWebhook)
		d.slots[del.WebhookID] = slot
	}
	d.users[del.WebhookID]++
	d.mu.Unlock()
	d.group.Go(func() {
		defer func() {
			d.mu.Lock()
			delete(d.running, del.ID)
			if d.users[del.WebhookID]--; d.users[del.WebhookID] == 0 { // no attempt to it here: forget its slots
				delete(d.users, del.WebhookID)
				delete(d.slots, del.WebhookID)
			}
			kick := d.waiting[del.WebhookID] // due deliveries of it were left for want of a slot
			delete(d.waiting, del.WebhookID)
			d.mu.Unlock()
			if kick {
				d.kick()
			}
		}()
		ctx, cancel := context.WithDeadline(d.ctx, lease)
		defer cancel()
		// Wait for a slot of this webhook, never for another's, while the
		// lease still holds a whole attempt; then the schedule gives it
		// again once the lease ends.
		wait, stop := context.WithDeadline(ctx, lease.Add(-d.cfg.Timeout))
		defer stop()
		select {
		case slot <- struct{}{}:
		default:
			select {
			case slot <- struct{}{}:
			case <-wait.Done():
				return
			}
		}
		held := true
		release := func() {
			if held {
				held = false
				<-slot
			}
		}
		defer release()
		if err := d.attempt(ctx, del, n, release); err != nil && d.ctx.Err() == nil {
			d.cfg.Logger.Warn("webhook attempt not recorded; it will be made again", "delivery", del.ID, "err", err)
		}
	})
}

// attempt makes attempt n of del and records it. It calls release (the
// webhook's slot) once the endpoint has answered: the slot bounds the
// requests in flight to the endpoint, not the durable writes that record
// them, which would otherwise cap a webhook at PerWebhook attempts per
// commit latency.
func (d *Dispatcher) attempt(ctx context.Context, del projections.Delivery, n int, release func()) error {
	w, err := projections.GetWebhook(ctx, d.cfg.Store, del.Tenant, del.WebhookID)
	var res SendResult
	switch {
	case errors.Is(err, projections.ErrNotFound):
		res = SendResult{ErrorClass: events.DeliveryWebhookDeleted, Error: "the webhook was deleted"}
	case err != nil:
		return err
	case w.Status != events.WebhookStatusActive:
		res = SendResult{ErrorClass: events.DeliveryWebhookDisabled, Error: "the webhook is disabled"}
	default:
		ok, err := d.permitted(ctx, del.Tenant, del.AppID, del.Scope)
		if err != nil {
			return err
		}
		if !ok {
			res = SendResult{ErrorClass: events.DeliveryNotPermitted, Error: fmt.Sprintf("the app no longer holds %s, or is inactive", del.Scope)}
			break
		}
		keys, err := d.keys(w)
		if err != nil {
			return err
		}
		body, err := d.body(ctx, del)
		if errors.Is(err, errBodyGone) {
			res = SendResult{ErrorClass: events.DeliveryBodyGone, Error: "the delivery's body is no longer in the log"}
			break
		}
		if err != nil {
			return err
		}
		res = d.cfg.Send(ctx, Outbound{URL: w.URL, ID: del.ID, Timestamp: d.cfg.Now(), Body: body, Secrets: keys})
	}
	release()
	if ctx.Err() != nil && res.ErrorClass != "" && d.ctx.Err() != nil {
		return ctx.Err() // shutting down: leave it to the next lease
	}
	return d.record(ctx, del, w, n, res)
}

// errBodyGone: a delivery's body is neither in its document nor in the
// log any more.
var errBodyGone = errors.New("webhooks: the delivery's body is gone")

// bodyWait bounds the search of the log for a dropped body.
const bodyWait = 10 * time.Second

// body returns what del POSTs: its document's body, or, once the
// projections dropped it (a failed delivery retried by hand), the body of
// its delivery.created, read again from the log.
func (d *Dispatcher) body(ctx context.Context, del projections.Delivery) (json.RawMessage, error) {
	if len(del.Body) > 0 {
		return del.Body, nil
	}
	if del.CreatedSeq == 0 {
		return nil, errBodyGone
	}
	last, err := d.cfg.Log.LastSeq(ctx, events.HighVolume)
	if err != nil {
		return nil, err
	}
	if last < del.CreatedSeq {
		return nil, errBodyGone
	}
	return d.findBody(ctx, del)
}

// findBody follows the high-volume stream from del's delivery.created
// to its message's end.
func (d *Dispatcher) findBody(ctx context.Context, del projections.Delivery) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, bodyWait)
	defer cancel()
	var body json.RawMessage
	errFound := errors.New("found")
	err := d.cfg.Log.Follow(ctx, events.HighVolume, del.CreatedSeq-1, func(_ context.Context, e events.Event) error {
		if e.Seq > del.CreatedSeq {
			return errBodyGone // the stream's retention took it
		}
		if e.Type != "delivery.created" || e.Aggregate.ID != del.ID {
			return nil
		}
		p, err := events.Decode(e)
		if err != nil {
			return err
		}
		body = p.(*events.DeliveryCreated).Body
		return errFound
	})
	if errors.Is(err, errFound) {
		return body, nil
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return nil, errBodyGone
	}
	return nil, err
}

// maxSecrets bounds the opened webhook secrets a dispatcher keeps.
const maxSecrets = 10_000

// keys opens the webhook's live secrets.
func (d *Dispatcher) keys(w projections.Webhook) ([][]byte, error) {
	live := w.LiveSecrets(d.cfg.Now())
	out := make([][]byte, 0, len(live))
	for _, s := range live {
		k := w.ID + "/" + s.ID
		if v, ok := d.secrets.Load(k); ok {
			out = append(out, v.([]byte))
			continue
		}
		raw, err := d.cfg.OpenSecret(w.ID, s)
		if err != nil {
			return nil, err
		}
		if d.nsecret.Add(1) > maxSecrets { // bounded: start over
			d.secrets.Clear()
			d.nsecret.Store(1)
		}
		d.secrets.Store(k, raw)
		out = append(out, raw)
	}
	return out, nil
}

// record appends the attempt and what follows from it.
func (d *Dispatcher) record(ctx context.Context, del projections.Delivery, w projections.Webhook, n int, res SendResult) error {
	at := d.cfg.Now()
	result := events.DeliveryResult{At: at, StatusCode: res.StatusCode, DurationMS: res.Duration.Milliseconds(), ErrorClass: res.ErrorClass, Error: res.Error, ResponseBody: res.ResponseBody}
	final := (result.Unsent() && res.ErrorClass != ClassNoSecret) || res.StatusCode == 410
	a := &events.DeliveryAttempted{Attempt: n, DeliveryResult: result, Outcome: events.DeliveryDelivered}
	switch {
	case res.ErrorClass == "":
	case final:
		a.Outcome = events.DeliveryFailed
	default:
		wait, ok := d.cfg.Retries(n, res.RetryAfter)
		if ok {
			next := at.Add(wait)
			a.Outcome, a.NextAttemptAt = events.DeliveryRetrying, &next
		} else {
			a.Outcome = events.DeliveryFailed
		}
	}
	ev, err := events.New(events.Ref{Tenant: del.Tenant, Type: events.AggDelivery, ID: del.ID}, events.System, at, a)
	if err != nil {
		return err
	}
	if _, err := d.cfg.Commit(context.WithoutCancel(ctx), ev); err != nil {
		return err
	}
	if a.Outcome == events.DeliveryRetrying {
		d.kick()
	}
	if res.StatusCode == 410 {
		return d.disable(ctx, w, "gone", "the endpoint answered 410 Gone")
	}
	if res.ErrorClass != "" && !final && !result.Unsent() {
		h, err := projections.GetWebhookHealth(ctx, d.cfg.Store, w.ID)
		if since, ok := failingSince(h, w); err == nil && ok && at.Sub(since) >= d.cfg.DisableAfter {
			return d.disable(ctx, w, "failing", fmt.Sprintf("every delivery failed since %s", since.Format(time.RFC3339)))
		}
	}
	return nil
}

// failingSince is since when every delivery to w as it is now failed
// (ok false: the last one succeeded): the health's streak, counted from
// w.ActiveSince when that is later, so that a webhook enabled again or
// pointed at another URL gets DisableAfter of its own before the streak
// of the endpoint it replaces disables it at its first failure.
func failingSince(h projections.WebhookHealth, w projections.Webhook) (time.Time, bool) {
	if h.FailingSince == nil {
		return time.Time{}, false
	}
	if w.ActiveSince.After(*h.FailingSince) {
		return w.ActiveSince, true
	}
	return *h.FailingSince, true
}

// disable appends webhook.disabled once, whichever instance gets there
// first, unless w (the webhook as the attempt read it) was pointed at
// another URL or enabled again since: the failure was the endpoint's it
// left, not the one it has now.
func (d *Dispatcher) disable(ctx context.Context, w projections.Webhook, reason, detail string) error {
	changed := false
	res, err := command.Run(ctx, d.commands(0), func(ctx context.Context, _ int) (command.Decision, error) {
		cur, err := projections.GetWebhook(ctx, d.cfg.Store, w.Tenant, w.ID)
		if errors.Is(err, projections.ErrNotFound) || err == nil && cur.Status != events.WebhookStatusActive {
			return command.Decision{}, nil // gone, or disabled already
		}
		if err != nil {
			return command.Decision{}, err
		}
		if changed = !cur.ActiveSince.Equal(w.ActiveSince); changed {
			return command.Decision{}, nil
		}
		ref := events.Ref{Tenant: w.Tenant, Type: events.AggWebhook, ID: w.ID}
		ev, err := events.New(ref, events.System, d.cfg.Now(), &events.WebhookDisabled{AppID: cur.AppID, URL: cur.URL, Reason: reason, Detail: detail})
		return command.Decision{Append: events.Append{Events: []events.Event{ev}, Expect: []events.Expect{{Ref: ref, Seq: cur.LastSeq}}}}, err
	})
	if len(res.Seqs) > 0 {
		d.cfg.Logger.Warn("webhook disabled", "webhook", w.ID, "reason", reason)
	} else if changed && err == nil {
		d.cfg.Logger.Info("webhook not disabled: it changed since the attempt", "webhook", w.ID, "reason", reason)
	}
	if errors.Is(err, command.ErrContended) {
		return nil // the webhook kept changing: the next failure decides again
	}
	return err
}

// commands are the dispatcher's deps of the command path: attempts
// decisions (0: the default), waits unbounded (a worker).
func (d *Dispatcher) commands(attempts int) command.Deps {
	return command.Deps{Log: d.cfg.Log, WaitFor: d.cfg.WaitFor, Attempts: attempts}
}

// schedule attempts due deliveries: retries, and deliveries whose
// instance died holding them; at once, then when the next is due (a
// second at most) or at a kick.
func (d *Dispatcher) schedule() { ticker.Schedule(d.ctx, d.wake.C(), d.scheduleRound) }

// scheduleRound runs the due deliveries and returns how long to wait:
// until the first entry not yet due (10 ms to a second), a short pause
// when the round stopped at its budget with due entries left. A due
// delivery left for want of a slot waits for the kick of its webhook's
// next attempt to end (or another instance).
func (d *Dispatcher) scheduleRound() time.Duration {
	const maxWait = time.Second
	r, err := d.runDue(d.ctx)
	switch {
	case err != nil:
		if d.ctx.Err() == nil {
			d.cfg.Logger.Warn("webhook schedule", "err", err)
		}
		return maxWait
	case r.more:
		return dueScanPause
	case r.next.IsZero():
		return maxWait
	}
	return min(max(time.Until(r.next), 10*time.Millisecond), maxWait)
}

// The schedule's reading: a round reads pages of duePage entries and
// looks at dueScan due entries at most; one that stops there leaves a
// cursor the next round starts from (after dueScanPause), so due entries
// behind a long run of ones it cannot start (a slow webhook's backlog)
// are reached in turn rather than never.
var (
	duePage      = 256
	dueScan      = 4 * 256
	dueScanPause = 50 * time.Millisecond
)

// dueRound is what a round of the schedule saw.
type dueRound struct {
	next time.Time // when the first entry not yet due is (zero: none seen)
	more bool      // stopped at dueScan with due entries after
}

// runDue claims and starts the due deliveries it can start now: for each
// webhook no more than its free slots here (Config.PerWebhook less the
// attempts it has here, running or waiting for a slot). The others stay
// due and unclaimed, for another instance or a later round: a claim whose
// attempt could only wait for a slot would be a write for nothing, made
// again at the end of every lease while the backlog lasts. Webhooks are
// not starved by one another's backlog: a full webhook's entries are
// passed over without a read, and the reading goes on past them
// (dueScan, the cursor).
func (d *Dispatcher) runDue(ctx context.Context) (dueRound, error) {
	now := d.cfg.Now()
	var r dueRound
	page := projections.Page{Limit: duePage, After: d.dueCursor}
	d.dueCursor = ""
	for scanned := 0; ; {
		due, next, err := projections.ListDue(ctx, d.cfg.Store, page)
		if err != nil {
			return r, err
		}
		for _, x := range due {
			if x.Due.After(now) {
				r.next = x.Due
				return r, nil
			}
			scanned++
			if !d.canStart(x) {
				continue
			}
			del, err := projections.GetDelivery(ctx, d.cfg.Store, x.Tenant, x.ID)
			if err != nil {
				continue
			}
			if del.LeaseUntil.After(now) || del.Status.Terminal() {
				continue
			}
			if _, err := d.claim(ctx, del, false); err != nil && !errors.Is(err, events.ErrVersionConflict) {
				return r, err
			}
		}
		if next == "" {
			return r, nil
		}
		if scanned >= dueScan {
			d.dueCursor, r.more = next, true
			return r, nil
		}
		page.After = next
	}
}

// canStart reports whether an attempt of x could start here now: it is
// not in flight here and its webhook has a free slot here. A webhook
// without one is marked waiting: the end of its next attempt kicks the
// schedule.
func (d *Dispatcher) canStart(x projections.DueDelivery) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running[x.ID] {
		return false
	}
	if d.users[x.WebhookID] >= d.cfg.PerWebhook {
		d.waiting[x.WebhookID] = true
		return false
	}
	return true
}

// claim appends delivery.claimed for the next attempt of del and starts
// it here. ErrVersionConflict: another instance claimed it first.
func (d *Dispatcher) claim(ctx context.Context, del projections.Delivery, manual bool) (int, error) {
	n := len(del.Attempts) + 1
	lease := d.cfg.Now().Add(d.cfg.Lease)
	ref := events.Ref{Tenant: del.Tenant, Type: events.AggDelivery, ID: del.ID}
	ev, err := events.New(ref, events.System, d.cfg.Now(), &events.DeliveryClaimed{Attempt: n, LeaseUntil: lease, Instance: d.cfg.Instance, Manual: manual})
	if err != nil {
		return 0, err
	}
	_, err = command.Run(ctx, d.commands(1), func(context.Context, int) (command.Decision, error) {
		// The scheduler acts on its claim and reads nothing back; a manual
		// retry's answer (and the caller's next read) shows the claim.
		return command.Decision{Append: events.Append{Events: []events.Event{ev}, Expect: []events.Expect{{Ref: ref, Seq: del.ClaimSeq}}}, NoWait: !manual}, nil
	})
	if err != nil {
		return 0, err
	}
	d.startAttempt(del, n, lease)
	return n, nil
}

// Errors of Retry.
var (
	ErrNotRetryable = errors.New("webhooks: the delivery was delivered")
	ErrBusy         = errors.New("webhooks: the delivery is being attempted")
)

// Retry attempts delivery id of tenant again now (API "retry"), once the
// projections show it claimed. It returns projections.ErrNotFound,
// ErrNotRetryable for a delivered one, or ErrBusy while an attempt is in
// flight.
func (d *Dispatcher) Retry(ctx context.Context, tenant, webhookID, id string) error {
	del, err := projections.GetDelivery(ctx, d.cfg.Store, tenant, id)
	if err != nil {
		return err
	}
	if del.WebhookID != webhookID {
		return fmt.Errorf("%w: delivery %q", projections.ErrNotFound, id)
	}
	if del.Status == events.DeliveryDelivered {
		return ErrNotRetryable
	}
	if del.LeaseUntil.After(d.cfg.Now()) {
		return ErrBusy
	}
	_, err = d.claim(ctx, del, true)
	if errors.Is(err, events.ErrVersionConflict) {
		return ErrBusy
	}
	return err
}

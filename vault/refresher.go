package vault

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/ticker"
	"github.com/gatehouse/gatehouse/internal/worker"
	"github.com/gatehouse/gatehouse/projections"
)

// Refresher is the worker that refreshes credentials before they expire.
// It is idle while nothing is due: it sleeps until the earliest entry of
// the refresh schedule (projections.NextCredentialDue), at most
// maxSleep (a credential created on another instance enters the schedule
// without waking this one), or until Kick.
type Refresher struct {
	V *Vault
	// Concurrency bounds refreshes in flight (default 8).
	Concurrency int

	group worker.Group
	mu    sync.Mutex
	busy  map[string]bool
	// skip holds credentials whose last refresh here ended without
	// recording anything (nothing to refresh with, the store away): they
	// are not tried again before the time given, so a schedule entry that
	// cannot move does not spin the loop.
	skip map[string]time.Time
}

// skipFor is how long such a credential is left alone.
const skipFor = 30 * time.Second

// maxSleep bounds the refresher's sleep.
const maxSleep = 30 * time.Second

// Start implements the worker: it starts the loop and returns.
func (r *Refresher) Start(context.Context) error {
	ctx := r.group.Start(context.Background())
	r.busy, r.skip = map[string]bool{}, map[string]time.Time{}
	r.group.Go(func() { r.loop(ctx) })
	return nil
}

// Close stops the loop and waits for refreshes in flight.
func (r *Refresher) Close() error { return r.group.Close() }

// loop runs rounds until ctx is done: at once, then when a round's wait
// has passed or at a Kick.
func (r *Refresher) loop(ctx context.Context) {
	n := r.Concurrency
	if n <= 0 {
		n = 8
	}
	slots := make(chan struct{}, n)
	ticker.Schedule(ctx, r.V.kick.C(), func() time.Duration { return r.round(ctx, slots) })
}

// round starts the refresh of every due credential not in flight nor
// left alone, at most cap(slots) at once, and returns how long to sleep.
func (r *Refresher) round(ctx context.Context, slots chan struct{}) time.Duration {
	v := r.V
	now := v.Now()
	due, err := projections.DueCredentials(ctx, v.Store, now, 256)
	if err != nil && ctx.Err() == nil {
		v.logger().Warn("vault: reading the refresh schedule", "err", err)
	}
	for _, d := range due {
		r.mu.Lock()
		if until, ok := r.skip[d.ID]; ok && now.Before(until) {
			r.mu.Unlock()
			continue
		}
		delete(r.skip, d.ID)
		if r.busy[d.ID] {
			r.mu.Unlock()
			continue
		}
		r.busy[d.ID] = true
		r.mu.Unlock()
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return 0
		}
		r.group.Go(func() {
			defer func() { <-slots; r.mu.Lock(); delete(r.busy, d.ID); r.mu.Unlock(); v.Kick() }()
			err := v.upkeep(ctx, d.Tenant, d.ID)
			if err == nil {
				_, err = v.Refresh(ctx, d.Tenant, d.ID, false)
			} else if errors.Is(err, errUpkept) {
				return
			}
			if err != nil && ctx.Err() == nil {
				var ue *UpstreamError
				if errors.As(err, &ue) {
					return // recorded, with its next attempt
				}
				r.mu.Lock()
				r.skip[d.ID] = v.Now().Add(skipFor)
				r.mu.Unlock()
				if !errors.Is(err, errNotDue) {
					v.logger().Warn("vault: refresh", "credential", d.ID, "err", err)
				}
			}
		})
	}
	wait := maxSleep
	if next, ok, err := projections.NextCredentialDue(ctx, v.Store); err == nil && ok {
		wait = min(max(next.Sub(v.Now()), 0), maxSleep)
	}
	if len(due) > 0 {
		// Entries due but in flight or left alone: wait for a kick (a
		// refresh ending) or a short while, not in a tight loop.
		wait = max(wait, 250*time.Millisecond)
	}
	return wait
}

// maxFailuresNoExpiry is how many refreshes in a row may fail before an
// interactive credential of no known expiry is failed.
const maxFailuresNoExpiry = 24

// errNotDue: the credential needs no refresh now (another instance holds
// the claim, or it is not due).
var errNotDue = errors.New("vault: not due")

// Refresh refreshes credential id of tenant now if it is due (forced:
// whether due or not): it claims it in the log, asks the provider, and
// appends the new token set, or the failure. It returns the provider's
// refusal as an *UpstreamError after recording it.
func (v *Vault) Refresh(ctx context.Context, tenant, id string, forced bool) (projections.Credential, error) {
	return v.refresh(ctx, tenant, id, forced, 0)
}

// refresh is Refresh; stale > 0 refreshes only while version stale is
// current (errNotStale otherwise: another refresh replaced it).
func (v *Vault) refresh(ctx context.Context, tenant, id string, forced bool, stale int) (projections.Credential, error) {
	wait := v.workerWait()
	if forced { // a request's refresh: its bounded wait
		wait = v.WaitFor
	}
	now := v.Now()
	// 1. The claim: one instance at a time (Attempts 1: losing the race
	// is the answer).
	var claimed projections.Credential
	_, res, err := v.run(ctx, wait, 1, tenant, id, func(ctx context.Context) (events.Append, error) {
		c, err := projections.GetCredential(ctx, v.Store, tenant, id)
		if err != nil {
			return events.Append{}, err
		}
		switch {
		case stale > 0 && c.Current != stale:
			return events.Append{}, errNotStale
		case !Refreshable(c):
			return events.Append{}, errNotRefreshable
		case c.ClaimedBy != "" && now.Before(c.ClaimedUntil):
			return events.Append{}, errNotDue
		case !forced && (c.Status == events.CredentialStatusRevoked || c.Status == events.CredentialStatusFailed):
			return events.Append{}, errNotDue
		case !forced && (c.NextRefreshAt == nil || c.NextRefreshAt.After(now)):
			return events.Append{}, errNotDue
		}
		claimed = c
		st := v.stateOf(c, c.Versions)
		until := now.Add(claimLease)
		st.ClaimedBy, st.ClaimedUntil = v.Instance, &until
		st.RefreshAttempts++
		return refreshAppend(c, events.System, now, &events.CredentialRefreshClaim{State: st, Forced: forced})
	})
	if err != nil {
		if forced && errors.Is(err, errNotDue) {
			return projections.Credential{}, errInFlight
		}
		return projections.Credential{}, err
	}
	_ = res
	v.Metrics.attempt()
	if !claimed.RefreshMoved {
		// The first refresh event: the control document stops scheduling.
		if err := v.moveOnce(ctx, wait, tenant, id); err != nil && ctx.Err() == nil {
			v.logger().Warn("vault: moving the refresh schedule", "credential", id, "err", err)
		}
	}
	// 2. The provider.
	secret, password, err := v.openSecrets(claimed)
	if err != nil {
		return projections.Credential{}, err
	}
	var previous *tokenSet
	form := grantForm(claimed, password)
	if cur, ok := refreshVersion(claimed); ok {
		ts, err := v.openTokens(claimed, cur)
		if err != nil {
			return projections.Credential{}, err
		}
		previous = &ts
		if ts.RefreshToken != "" {
			form = refreshForm(ts.RefreshToken)
		}
	}
	reqCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimLease-5*time.Second)
	client, err := v.clientFor(reqCtx, claimed)
	if err != nil {
		cancel()
		return projections.Credential{}, err
	}
	answer, callErr := requestToken(reqCtx, client, endpointOf(claimed, secret), form)
	cancel()
	now = v.Now()
	// 3. The answer, appended before anything else: a token set the
	// provider issued is never lost to a conflict (decided again on the
	// credential as it is then) or to a PATCH in between.
	reason := "refreshed"
	if forced {
		reason = "forced"
	}
	if callErr != nil {
		c, err := v.recordFailure(context.WithoutCancel(ctx), wait, tenant, id, callErr, now)
		if err != nil {
			return c, err
		}
		v.Metrics.result("failed")
		return c, callErr
	}
	c, err := v.storeAnswer(context.WithoutCancel(ctx), wait, tenant, id, reason, answer, previous, now, func(c projections.Credential) error {
		if c.SupersededThrough != claimed.SupersededThrough || settingsDigest(c) != settingsDigest(claimed) {
			// A PATCH changed what the provider sees meanwhile (it needs
			// reauthorization, or stored a token set of its own): a token
			// set of the old settings is not brought back as current.
			return errSettingsChangedMidRefresh
		}
		return nil
	})
	if err != nil {
		return projections.Credential{}, err
	}
	v.Metrics.result("refreshed")
	return c, nil
}

var (
	errNotRefreshable = errors.New("vault: the credential has nothing to refresh with (authorize it first)")
	errInFlight       = errors.New("vault: a refresh of this credential is in progress")
	// errSettingsChangedMidRefresh: the provider settings changed while
	// the refresh was at the provider; its answer is dropped.
	errSettingsChangedMidRefresh = errors.New("vault: the credential's provider settings changed during the refresh")
)

func hasRefreshToken(c projections.Credential) bool {
	cur, ok := refreshVersion(c)
	return ok && cur.HasRefreshToken
}

// failure is what a failed refresh records: revoked on invalid_grant;
// otherwise a retry after a back-off unless the token set has expired
// (then failed), and credential.expiring once per token set when it
// expires within the refresh window.
type failure struct {
	ue       *UpstreamError
	revoked  bool
	attempt  int
	failed   bool
	next     *time.Time
	expiring *time.Time
}

func (v *Vault) failureOf(c projections.Credential, callErr error, now time.Time) failure {
	ue := &UpstreamError{Code: "unreachable"}
	if !errors.As(callErr, &ue) {
		ue = &UpstreamError{Code: "unreachable", Description: clip(callErr.Error(), 256)}
	}
	if ue.InvalidGrant() {
		return failure{ue: ue, revoked: true}
	}
	f := failure{ue: ue, attempt: c.ConsecutiveFailures + 1}
	exp := c.ExpiresAt()
	// Failed once the token set has expired. A set of no known expiry
	// (Salesforce answers no expires_in) has not: its access token may
	// still work, and a provider's passing failure (a 503, a 429) is
	// retried as any other, not the end of the credential; after
	// maxFailuresNoExpiry failures in a row (about an hour and a half of
	// back-off) an interactive credential's is failed, so a refusal that
	// does not pass (a client secret changed at the provider) does not
	// alert every five minutes for ever.
	f.failed = exp != nil && !now.Before(*exp)
	if exp == nil && c.GrantType != GrantClientCredentials && c.GrantType != GrantPassword {
		f.failed = f.attempt >= maxFailuresNoExpiry
	}
	if !f.failed {
		next := now.Add(max(backoff(f.attempt), ue.RetryAfter)).UTC().Truncate(time.Millisecond)
		if exp != nil && next.After(*exp) {
			next = *exp // one last try as it expires; failing then is failed
		}
		f.next = &next
	}
	if cur, ok := c.CurrentVersion(); !f.failed && ok && exp != nil && c.ExpiringAlerted != c.Current && now.Add(c.RefreshLead(cur)).After(*exp) {
		f.expiring = exp
	}
	return f
}

// alerts are f's events on the control stream: the alerts webhooks
// deliver (credential.revoked, credential.refresh_failed,
// credential.expiring).
func (f failure) alerts(c projections.Credential) []events.Change {
	ref := credentialRef(c.Tenant, c.ID)
	if f.revoked {
		return []events.Change{{Ref: ref, Payload: &events.CredentialRevoked{Error: f.ue.Code, ErrorDescription: f.ue.Description}}}
	}
	out := []events.Change{{Ref: ref, Payload: &events.CredentialRefreshFailed{Attempt: f.attempt, Error: f.ue.Code,
		ErrorDescription: f.ue.Description, NextAttemptAt: f.next, Failed: f.failed}}}
	if f.expiring != nil {
		out = append(out, events.Change{Ref: ref, Payload: &events.CredentialExpiring{ExpiresAt: *f.expiring}})
	}
	return out
}

// apply records f in refresh state s of c.
func (f failure) apply(c projections.Credential, s *events.CredentialRefreshState) {
	s.ClaimedBy, s.ClaimedUntil = "", nil
	s.Revision++
	s.LastError = f.ue.Code
	if f.ue.Description != "" {
		s.LastError += ": " + f.ue.Description
	}
	if f.revoked {
		s.Status, s.NextRefreshAt = events.CredentialStatusRevoked, nil
		return
	}
	s.ConsecutiveFailures, s.NextRefreshAt = f.attempt, f.next
	if f.failed {
		s.Status, s.NextRefreshAt = events.CredentialStatusFailed, nil
	}
	if f.expiring != nil {
		s.ExpiringAlerted = c.Current
	}
}

// recordFailure records a failed refresh of credential id: first its
// alerts on the control stream (a crash before the state is written
// leaves the claim to lapse and the refresh to be tried again: an alert
// may repeat, never go missing), then the state on the high-volume one.
func (v *Vault) recordFailure(ctx context.Context, wait func(context.Context, events.Stream, uint64) error, tenant, id string, callErr error, now time.Time) (projections.Credential, error) {
	var f failure
	_, _, err := v.run(ctx, wait, 0, tenant, id, func(ctx context.Context) (events.Append, error) {
		c, err := projections.GetCredential(ctx, v.Store, tenant, id)
		if err != nil {
			return events.Append{}, err // deleted meanwhile
		}
		f = v.failureOf(c, callErr, now)
		evs, err := events.NewAll(events.System, now, f.alerts(c)...)
		return events.Append{Events: evs, Expect: []events.Expect{{Ref: credentialRef(tenant, id), Seq: c.LastSeq}}}, err
	})
	if err != nil {
		return projections.Credential{}, err
	}
	c, _, err := v.run(ctx, wait, 0, tenant, id, func(ctx context.Context) (events.Append, error) {
		c, err := projections.GetCredential(ctx, v.Store, tenant, id)
		if err != nil {
			return events.Append{}, err
		}
		s := v.stateOf(c, c.Versions)
		f.apply(c, &s)
		return refreshAppend(c, events.System, now, &events.CredentialRefreshAttemptFailed{State: s, Error: f.ue.Code})
	})
	return c, err
}

// Metrics are the vault's Prometheus metrics.
type Metrics struct {
	refreshes *prometheus.CounterVec
	attempts  prometheus.Counter
}

// NewMetrics registers the vault's metrics on reg (nil: none).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		return nil
	}
	m := &Metrics{
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_vault_refreshes_total",
			Help: "Refreshes of upstream credentials by result (refreshed, failed).",
		}, []string{"result"}),
		attempts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_vault_refresh_claims_total",
			Help: "Refreshes this instance claimed.",
		}),
	}
	reg.MustRegister(m.refreshes, m.attempts)
	return m
}

func (m *Metrics) attempt() {
	if m != nil {
		m.attempts.Inc()
	}
}

func (m *Metrics) result(r string) {
	if m != nil {
		m.refreshes.WithLabelValues(r).Inc()
	}
}

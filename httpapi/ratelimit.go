package httpapi

import (
	"context"
	"hash/maphash"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// RateLimits configures the abuse limits of API.md "Authentication of the
// platform API": a budget of requests per authenticated client, and a
// budget of failed authentications per source address and per client_id
// from one address, past which the endpoints answer 429 with Retry-After.
type RateLimits struct {
	// Client is how many requests per second one authenticated client may
	// make to the token, introspection and revocation endpoints, in bursts
	// of as many. 0: no limit.
	Client float64
	// Platform is the same budget on the platform API. 0: no limit.
	Platform float64
	// Failures is how many failed client authentications one client_id may
	// have from one source address per Window; past it that pair is
	// answered 429 until the budget refills (one more per Window/Failures).
	// A client_id's owner elsewhere is never affected, and never longer
	// than Window. 0: no limit.
	Failures int
	// AddressFailures is how many failed authentications (any client_id,
	// bad bearer tokens) one source address may have per Window. 0: no
	// limit.
	AddressFailures int
	// Window is the period of the failure budgets. Default 1m.
	Window time.Duration
	// Exempt lists client_ids that no request budget applies to (failure
	// budgets still do).
	Exempt []string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives one warning when a client or an address starts being
	// limited. Default: discard.
	Logger *slog.Logger
	// Metrics receives the limiter's series. Default: none.
	Metrics prometheus.Registerer
}

// Budget names the request budget a request spends.
type Budget int

// The request budgets of authenticated clients.
const (
	BudgetOAuth    Budget = iota // token, introspection, revocation
	BudgetPlatform               // the platform API
)

// Limiter enforces RateLimits. It is sharded (no global lock) and
// allocates nothing for a request that is not limited. A nil *Limiter
// limits nothing.
type Limiter struct {
	cfg     RateLimits
	oauth   *table[bucket]
	plat    *table[bucket]
	addrs   *table[addrState]
	exempt  map[string]struct{}
	logs    *rate.Limiter // bounds the warnings of a flood
	metrics limiterMetrics
}

// NewLimiter returns a limiter of cfg.
func NewLimiter(cfg RateLimits) *Limiter {
	if cfg.Window <= 0 {
		cfg.Window = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Limiter{
		cfg:    cfg,
		oauth:  newTable[bucket](maxTracked),
		plat:   newTable[bucket](maxTracked),
		addrs:  newTable[addrState](maxTracked),
		exempt: make(map[string]struct{}, len(cfg.Exempt)),
		logs:   rate.NewLimiter(10, 10),
	}
	for _, id := range cfg.Exempt {
		l.exempt[id] = struct{}{}
	}
	l.metrics = newLimiterMetrics(cfg.Metrics, l)
	return l
}

// maxTracked bounds the entries of each table of a limiter, so that a
// flood from many addresses keeps memory bounded (DESIGN.md invariant 8).
const maxTracked = 1 << 16

// maxClientsPerAddress bounds the client_ids tracked for one address;
// past it the address's own budget is what limits.
const maxClientsPerAddress = 64

// Suspect reports whether addr has failed to authenticate lately, so that
// Admit has something to check: the one lookup a request from an address
// in good standing costs.
func (l *Limiter) Suspect(addr string) bool {
	if l == nil || (l.cfg.AddressFailures <= 0 && l.cfg.Failures <= 0) {
		return false
	}
	s := l.addrs.shard(addr)
	s.mu.Lock()
	_, ok := s.m[addr]
	s.mu.Unlock()
	return ok
}

// Admit is the check before a client authentication from addr presenting
// clientID ("" when it presents none, e.g. a bearer token): it reports
// whether addr, or clientID from addr, has spent its failure budget, and
// how long to wait then.
func (l *Limiter) Admit(clientID, addr string) (time.Duration, bool) {
	if l == nil || (l.cfg.AddressFailures <= 0 && l.cfg.Failures <= 0) {
		return 0, true
	}
	now := l.cfg.Now().UnixNano()
	s := l.addrs.shard(addr)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.m[addr]
	if st == nil {
		return 0, true // no failure from addr lately: the common case
	}
	if wait, ok := st.all.peek(now, l.addrRate(), l.cfg.AddressFailures); !ok {
		l.metrics.limited[limitAddressFailures].Inc()
		return wait, false
	}
	if b := st.byClient[clientID]; b != nil && clientID != "" {
		if wait, ok := b.peek(now, l.pairRate(), l.cfg.Failures); !ok {
			l.metrics.limited[limitClientFailures].Inc()
			return wait, false
		}
	}
	return 0, true
}

// Failed records a failed authentication at endpoint from addr presenting
// clientID, and logs a warning (client id and address, never what was
// presented as a secret) when it exhausts a budget.
func (l *Limiter) Failed(endpoint, clientID, addr string) {
	if l == nil {
		return
	}
	l.metrics.failures.WithLabelValues(endpoint).Inc()
	if l.cfg.AddressFailures <= 0 && l.cfg.Failures <= 0 {
		return
	}
	now := l.cfg.Now().UnixNano()
	addrWait, pairWait := l.recordFailure(now, clientID, addr)
	switch {
	case pairWait > 0:
		l.warn("client authentication failures: backing off this client_id from this address",
			endpoint, clientID, addr, l.cfg.Failures, pairWait)
	case addrWait > 0:
		l.warn("authentication failures: backing off this address",
			endpoint, clientID, addr, l.cfg.AddressFailures, addrWait)
	}
}

// recordFailure spends one failure of addr and of (clientID, addr). A
// wait above 0 says the failure took the last of that budget (the onset
// of its limit, logged once).
func (l *Limiter) recordFailure(now int64, clientID, addr string) (addrWait, pairWait time.Duration) {
	s := l.addrs.shard(addr)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.m[addr]
	if st == nil {
		st = &addrState{all: fullBucket(now, l.cfg.AddressFailures)}
		s.put(addr, st, func(v *addrState) bool { return v.idle(now, l) })
	}
	if l.cfg.AddressFailures > 0 {
		addrWait = onset(st.all.spend(now, l.addrRate(), l.cfg.AddressFailures))
	}
	if l.cfg.Failures > 0 && clientID != "" {
		pairWait = onset(st.client(clientID, now, l).spend(now, l.pairRate(), l.cfg.Failures))
	}
	return addrWait, pairWait
}

// onset is the wait of a spend that took a budget's last token, else 0.
func onset(took bool, wait time.Duration) time.Duration {
	if took {
		return wait
	}
	return 0
}

// Spend charges one request of the authenticated client clientID to
// budget b; false (and how long to wait) when the budget is spent. It
// is called only once the client has authenticated, so a caller who
// merely names a client_id can neither spend its budget nor learn about
// it.
func (l *Limiter) Spend(b Budget, clientID string) (time.Duration, bool) {
	if l == nil {
		return 0, true
	}
	perSec, t, limit := l.cfg.Client, l.oauth, limitClient
	if b == BudgetPlatform {
		perSec, t, limit = l.cfg.Platform, l.plat, limitPlatform
	}
	if perSec <= 0 {
		return 0, true
	}
	if _, ok := l.exempt[clientID]; ok {
		return 0, true
	}
	burst := int(math.Ceil(perSec))
	now := l.cfg.Now().UnixNano()
	s := t.shard(clientID)
	s.mu.Lock()
	bk := s.m[clientID]
	if bk == nil {
		bk = fullBucket(now, burst)
		s.put(clientID, bk, func(v *bucket) bool { return v.full(now, perSec, burst) })
	}
	wasLimited := bk.limited
	took, wait := bk.spend(now, perSec, burst)
	s.mu.Unlock()
	if took {
		return 0, true
	}
	l.metrics.limited[limit].Inc()
	if !wasLimited {
		l.warn("client over its request budget", limit.String(), clientID, "", burst, wait)
	}
	return wait, false
}

// Tracked is how many clients and addresses the limiter holds state of.
func (l *Limiter) Tracked() int {
	if l == nil {
		return 0
	}
	return l.oauth.len() + l.plat.len() + l.addrs.len()
}

// addrRate and pairRate are the refill rates of the failure budgets, per
// second.
func (l *Limiter) addrRate() float64 { return float64(l.cfg.AddressFailures) / l.cfg.Window.Seconds() }
func (l *Limiter) pairRate() float64 { return float64(l.cfg.Failures) / l.cfg.Window.Seconds() }

// warn logs the onset of a limit, at most 10 lines a second in all.
func (l *Limiter) warn(msg, endpoint, clientID, addr string, budget int, wait time.Duration) {
	if !l.logs.AllowN(l.cfg.Now(), 1) {
		return
	}
	l.cfg.Logger.LogAttrs(context.Background(), slog.LevelWarn, msg,
		slog.String("endpoint", endpoint), slog.String("client_id", clientID), slog.String("address", addr),
		slog.Int("budget", budget), slog.Duration("window", l.cfg.Window), slog.Duration("retry_after", wait))
}

// bucket is a token bucket: tokens refill at a rate up to a burst. Times
// are unix nanoseconds.
type bucket struct {
	tokens  float64
	at      int64
	limited bool // the last spend found it empty
}

func fullBucket(now int64, burst int) *bucket {
	return &bucket{tokens: float64(burst), at: now}
}

// refill adds what rate gave since the last update, up to burst.
func (b *bucket) refill(now int64, perSec float64, burst int) {
	if now > b.at {
		b.tokens = min(float64(burst), b.tokens+float64(now-b.at)/1e9*perSec)
		b.at = now
	}
}

// spend takes one token if there is one (took). wait is how long until
// the next one when none is left after it, else 0.
func (b *bucket) spend(now int64, perSec float64, burst int) (took bool, wait time.Duration) {
	b.refill(now, perSec, burst)
	took = b.tokens >= 1
	if took {
		b.tokens--
	}
	b.limited = !took
	if b.tokens >= 1 {
		return took, 0
	}
	return took, untilOne(b.tokens, perSec)
}

// peek reports whether a token is there, and if not how long until one
// is.
func (b *bucket) peek(now int64, perSec float64, burst int) (time.Duration, bool) {
	b.refill(now, perSec, burst)
	if b.tokens >= 1 {
		return 0, true
	}
	return untilOne(b.tokens, perSec), false
}

// full reports whether the bucket has refilled to its burst: then it is
// the same as no bucket and may be dropped.
func (b *bucket) full(now int64, perSec float64, burst int) bool {
	b.refill(now, perSec, burst)
	return b.tokens >= float64(burst)
}

func untilOne(tokens, perSec float64) time.Duration {
	return time.Duration((1 - tokens) / perSec * 1e9)
}

// addrState is the failure budgets of one source address: its own, and
// one per client_id presented from it.
type addrState struct {
	all      *bucket
	byClient map[string]*bucket
}

// client returns the bucket of clientID, making room when the address
// already tracks maxClientsPerAddress client_ids.
func (st *addrState) client(clientID string, now int64, l *Limiter) *bucket {
	if b := st.byClient[clientID]; b != nil {
		return b
	}
	if st.byClient == nil {
		st.byClient = map[string]*bucket{}
	}
	if len(st.byClient) >= maxClientsPerAddress {
		for id, b := range st.byClient {
			if b.full(now, l.pairRate(), l.cfg.Failures) || len(st.byClient) >= maxClientsPerAddress {
				delete(st.byClient, id)
			}
			if len(st.byClient) < maxClientsPerAddress/2 {
				break
			}
		}
	}
	b := fullBucket(now, l.cfg.Failures)
	st.byClient[strings.Clone(clientID)] = b
	return b
}

// idle reports whether every budget of the address has refilled.
func (st *addrState) idle(now int64, l *Limiter) bool {
	if !st.all.full(now, l.addrRate(), l.cfg.AddressFailures) {
		return false
	}
	for _, b := range st.byClient {
		if !b.full(now, l.pairRate(), l.cfg.Failures) {
			return false
		}
	}
	return true
}

// table is a map of string keys split into shards, each with its own
// lock, bounded in entries.
type table[V any] struct {
	seed   maphash.Seed
	shards [tableShards]tableShard[V]
}

const tableShards = 64

type tableShard[V any] struct {
	mu  sync.Mutex
	m   map[string]*V
	max int      // entries
	_   [40]byte // keeps shards' locks on cache lines of their own
}

func newTable[V any](capacity int) *table[V] {
	t := &table[V]{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].m = map[string]*V{}
		t.shards[i].max = max(capacity/tableShards, 1)
	}
	return t
}

func (t *table[V]) shard(key string) *tableShard[V] {
	return &t.shards[maphash.String(t.seed, key)%tableShards]
}

// len counts the entries (for the metrics).
func (t *table[V]) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// put adds key, the shard locked. A full shard first drops the entries
// drop says are idle, then any, until it has room.
func (s *tableShard[V]) put(key string, v *V, drop func(*V) bool) {
	if len(s.m) >= s.max {
		for k, old := range s.m {
			if drop(old) {
				delete(s.m, k)
			}
		}
		for k := range s.m {
			if len(s.m) < s.max {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[strings.Clone(key)] = v
}

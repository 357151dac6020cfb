package idp

import (
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// issuedCodes are the grants of the codes this instance issued, from
// their authz_code.issued once it is durable until their redemption here
// (or their expiry): what the projection will hold for the code once it
// applies the issue, handed to the code's redemption on this instance so
// that it does not wait for the projector (grants.find). The browser
// brings the code back a few milliseconds after the redirect, usually
// before the projector has applied its issue: the wait that saves was a
// third of the exchanges in the code bench.
//
// It only replaces a wait: the projection is read first (it knows at
// least as much: it holds the issue whenever it holds anything later of
// the grant), the first use of a code is still decided by the log's order
// at the redemption's commit, and a code issued on another instance is
// looked for as before. A grant here is the alone, as a
// projection that has applied the issue and nothing after it holds it:
// a redemption racing on another instance is settled at commit, as it is
// when the projection lags.
type issuedCodes struct {
	mu    sync.Mutex
	max   int
	now   func() time.Time
	byKey map[string]projections.Grant
	// order is the codes in the order they were issued, which is also
	// their expiry's (one lifetime), for the sweep.
	order []issuedKey
}

type issuedKey struct {
	hash string
	exp  time.Time
}

// maxIssued bounds the codes held (a code redeemed at once leaves at
// its redemption; one never redeemed, after its 60 s): beyond it, a
// redemption waits for the projector as it did without.
const maxIssued = 16384

func newIssuedCodes(now func() time.Time, max int) *issuedCodes {
	return &issuedCodes{max: max, now: now, byKey: map[string]projections.Grant{}}
}

// add records the grant of a code whose issue e (payload p) is durable at
// sequence seq: the document the projection's reducer makes of it.
func (c *issuedCodes) add(e events.Event, p *events.AuthCodeIssued, seq uint64) {
	// Tokens stays nil here: get gives each reader an empty map of its own.
	g := projections.Grant{ID: e.Aggregate.ID, Tenant: e.Tenant(), AuthCodeIssued: *p, LastSeq: seq}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweep()
	// A code redeemed out of order leaves its place in order until the
	// ones before it go: order is bounded too.
	if len(c.byKey) >= c.max || len(c.order) >= 4*c.max {
		return
	}
	c.byKey[p.CodeHash] = g
	c.order = append(c.order, issuedKey{hash: p.CodeHash, exp: p.ExpiresAt})
}

// get returns the grant of the code whose hash is h, if it was issued
// here, is not redeemed here and has not expired.
func (c *issuedCodes) get(h string) (projections.Grant, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.byKey[h]
	if !ok || !c.now().Before(g.ExpiresAt) {
		return projections.Grant{}, false
	}
	// The caller's own copy: fosite's request gets its scopes.
	g.RequestedScopes = slices.Clone(g.RequestedScopes)
	g.GrantedScopes = slices.Clone(g.GrantedScopes)
	g.Tokens = map[string]time.Time{}
	return g, true
}

// forget drops the code whose hash is h: its redemption is in the log,
// and the projection holds the grant by the time the redemption is
// answered.
func (c *issuedCodes) forget(h string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byKey, h)
	c.sweep()
}

// sweep drops the codes at the front of order that have expired or
// were forgotten (at each issue and each redemption: the codes are
// mostly redeemed in the order they were issued). Callers hold mu.
func (c *issuedCodes) sweep() {
	now := c.now()
	i := 0
	for ; i < len(c.order); i++ {
		k := c.order[i]
		if _, live := c.byKey[k.hash]; live && now.Before(k.exp) {
			break
		}
		delete(c.byKey, k.hash)
	}
	if i == len(c.order) {
		c.order = nil // nothing held: nor its array
		return
	}
	c.order = c.order[i:] // append reallocates once the front is used up
}

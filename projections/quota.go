package projections

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// KindQuota is the document kind of quota counters (events.QuotaCounted).
// One per owner that ever took a slot; an app's goes with the app.
const KindQuota = "quota"

// Quota is where an owner's counter stands: the count the last taker
// recorded and the quota aggregate's last sequence, the version the next
// taker must expect.
type Quota struct {
	Kind  string `json:"kind"`
	Owner string `json:"owner"`
	Count int    `json:"count"`
	// Exact: Count is kept exactly (events.QuotaCounted.Exact).
	Exact bool `json:"exact,omitempty"`
	// Reserved are the slots held for pending activities.
	Reserved []events.QuotaReservation `json:"reserved,omitempty"`
	LastSeq  uint64                    `json:"last_seq"`
}

// Held counts the reservations still holding a slot at now, but the one
// of activity except (the taker that turns it into a holding).
func (q Quota) Held(now time.Time, except string) int {
	n := 0
	for _, r := range q.Reserved {
		if r.ID != except && now.Before(r.Until) {
			n++
		}
	}
	return n
}

// Holds reports whether activity id holds a slot at now.
func (q Quota) Holds(now time.Time, id string) bool {
	return q.Held(now, "") != q.Held(now, id)
}

var _ = on(func(tx Tx, e events.Event, p *events.QuotaCounted) error {
	var reserved []events.QuotaReservation
	if d, err := tx.Get(KindQuota, quotaID(e.Aggregate.Tenant, p.Kind, p.Owner)); err == nil {
		var prev Quota
		if err := json.Unmarshal(d.Body, &prev); err != nil {
			return err
		}
		reserved = prev.Reserved
	} else if !isNotFound(err) {
		return err
	}
	// Expired holds and the released one go; the new one joins.
	kept := reserved[:0:0]
	for _, r := range reserved {
		if r.ID != p.Release && e.Time.Before(r.Until) {
			kept = append(kept, r)
		}
	}
	if p.Reserve != nil {
		kept = append(kept, *p.Reserve)
	}
	body, err := json.Marshal(Quota{Kind: p.Kind, Owner: p.Owner, Count: p.Count, Exact: p.Exact, Reserved: kept, LastSeq: e.Seq})
	if err != nil {
		return err
	}
	return tx.Put(Doc{Kind: KindQuota, ID: quotaID(e.Aggregate.Tenant, p.Kind, p.Owner), Tenant: e.Aggregate.Tenant, Body: body})
})

func quotaID(tenant, kind, owner string) string {
	return tenant + "/" + events.QuotaRef(tenant, kind, owner).ID
}

// GetQuota returns owner's counter of kind within tenant; one never
// counted is a zero Quota (LastSeq 0), not an error.
func GetQuota(ctx context.Context, r Reader, tenant, kind, owner string) (Quota, error) {
	return getViewOr(ctx, r, KindQuota, quotaID(tenant, kind, owner), Quota{Kind: kind, Owner: owner})
}

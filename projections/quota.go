package projections

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/gatehouse/gatehouse/events"
)

// KindQuota is the document kind of quota counters (events.QuotaCounted).
// One per owner that ever took a slot; an app's goes with the app.
const KindQuota = "quota"

// Quota is where an owner's counter stands: the count the last taker
// recorded and the quota aggregate's last sequence, the version the next
// taker must expect.
type Quota struct {
	Kind    string `json:"kind"`
	Owner   string `json:"owner"`
	Count   int    `json:"count"`
	LastSeq uint64 `json:"last_seq"`
}

var _ = on(func(tx Tx, e events.Event, p *events.QuotaCounted) error {
	body, err := json.Marshal(Quota{Kind: p.Kind, Owner: p.Owner, Count: p.Count, LastSeq: e.Seq})
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
	d, err := r.Get(ctx, KindQuota, quotaID(tenant, kind, owner))
	if errors.Is(err, ErrNotFound) {
		return Quota{Kind: kind, Owner: owner}, nil
	}
	if err != nil {
		return Quota{}, err
	}
	var q Quota
	return q, json.Unmarshal(d.Body, &q)
}

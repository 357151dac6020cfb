package projections

import (
	"context"
	"encoding/json"

	"github.com/gatehouse/gatehouse/events"
)

// KindName is the document kind of unique-name claims.
const KindName = "name"

// NameClaim is where a unique name stands: who holds it (empty once
// released) and the claim aggregate's last sequence, the version a new
// claim must expect.
type NameClaim struct {
	Namespace string `json:"namespace"`
	Value     string `json:"value"`
	Owner     string `json:"owner,omitempty"`
	LastSeq   uint64 `json:"last_seq"`
}

var (
	_ = on(func(tx Tx, e events.Event, p *events.NameClaimed) error {
		return putName(tx, e, NameClaim{Namespace: p.Namespace, Value: p.Value, Owner: p.Owner, LastSeq: e.Seq})
	})
	_ = on(func(tx Tx, e events.Event, p *events.NameReleased) error {
		return putName(tx, e, NameClaim{Namespace: p.Namespace, Value: p.Value, LastSeq: e.Seq})
	})
)

func putName(tx Tx, e events.Event, c NameClaim) error {
	body, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return tx.Put(Doc{Kind: KindName, ID: e.Aggregate.Tenant + "/" + e.Aggregate.ID, Tenant: e.Aggregate.Tenant, Body: body})
}

// GetNameClaim returns the claim on value in namespace within tenant; a
// name never claimed is a zero NameClaim (LastSeq 0), not an error.
func GetNameClaim(ctx context.Context, r Reader, tenant, namespace, value string) (NameClaim, error) {
	ref := events.NameRef(tenant, namespace, value)
	return getViewOr(ctx, r, KindName, tenant+"/"+ref.ID, NameClaim{Namespace: namespace, Value: value})
}

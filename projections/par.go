package projections

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gatehouse/gatehouse/events"
)

// KindPAR is a pushed authorization request (RFC 9126), by the SHA-256
// of its request_uri's random part. It leaves the store when it expires.
const KindPAR = "par"

// PAR is a pushed authorization request.
type PAR struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	// The app, the authorization request's parameters and the end of
	// the request_uri, as par.pushed carries them.
	events.PARPushed
	// Used is true once a code answering it was issued.
	Used    bool   `json:"used"`
	LastSeq uint64 `json:"last_seq"`
}

var (
	_ = on(func(tx Tx, e events.Event, p *events.PARPushed) error {
		r := PAR{ID: e.Aggregate.ID, Tenant: e.Tenant(), PARPushed: *p}
		return putPAR(tx, e, r)
	})
	_ = on(func(tx Tx, e events.Event, _ *events.PARUsed) error {
		d, err := tx.Get(KindPAR, e.Aggregate.ID)
		if isNotFound(err) {
			return nil // expired before its use was projected
		}
		if err != nil {
			return fmt.Errorf("projections: %s for %s: %w", e.Type, e.Aggregate.ID, err)
		}
		var r PAR
		if err := json.Unmarshal(d.Body, &r); err != nil {
			return err
		}
		r.Used = true
		return putPAR(tx, e, r)
	})
)

func putPAR(tx Tx, e events.Event, r PAR) error {
	r.LastSeq = e.Seq
	if err := putDoc(tx, Doc{Kind: KindPAR, ID: r.ID, Tenant: r.Tenant, Sort: r.ClientID}, r); err != nil {
		return err
	}
	return ExpireAt(tx, events.HighVolume, KindPAR, r.ID, r.ExpiresAt)
}

// GetPAR returns the pushed authorization request id, or ErrNotFound
// (also once expired by the log's clock; callers check ExpiresAt against
// theirs too).
func GetPAR(ctx context.Context, r Reader, id string) (PAR, error) {
	return getJSON[PAR](ctx, r, KindPAR, id)
}

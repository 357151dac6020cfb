package projections

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// KindIdempotency is the document kind of Idempotency-Key records.
const KindIdempotency = "idempotency"

// IdemState is where an Idempotency-Key record stands.
type IdemState string

// Idempotency states.
const (
	IdemStarted   IdemState = "started"
	IdemCompleted IdemState = "completed"
	IdemReleased  IdemState = "released"
)

// IdempotencyRecord is where one Idempotency-Key stands.
type IdempotencyRecord struct {
	State       IdemState `json:"state"`
	Method      string    `json:"method"`
	Path        string    `json:"path"`
	Fingerprint string    `json:"fingerprint"`
	StartedAt   time.Time `json:"started_at"`
	CompletedAt time.Time `json:"completed_at"`
	Status      int       `json:"status,omitempty"`
	ContentType string    `json:"content_type,omitempty"`
	ETag        string    `json:"etag,omitempty"`
	Location    string    `json:"location,omitempty"`
	BodySealed  string    `json:"body_sealed,omitempty"`
	// RetainSeconds is how long the record is kept after the key's last
	// event (idempotency.started's); ExpiresAt is when, by the log's
	// clock, the projections drop it: the end of the replay window.
	RetainSeconds int64     `json:"retain_seconds"`
	ExpiresAt     time.Time `json:"expires_at"`
	// LastSeq is the version the key's next event must expect.
	LastSeq uint64 `json:"last_seq"`
}

var (
	_ = on(func(tx Tx, e events.Event, p *events.IdempotencyStarted) error {
		return putIdem(tx, e, IdempotencyRecord{State: IdemStarted, Method: p.Method, Path: p.Path, Fingerprint: p.Fingerprint, StartedAt: e.Time,
			RetainSeconds: int64(p.Retention() / time.Second)})
	})
	_ = on(func(tx Tx, e events.Event, p *events.IdempotencyCompleted) error {
		return updateIdem(tx, e, func(r *IdempotencyRecord) {
			r.State, r.CompletedAt, r.Status, r.ContentType = IdemCompleted, e.Time, p.Status, p.ContentType
			r.ETag, r.Location, r.BodySealed = p.ETag, p.Location, p.BodySealed
		})
	})
	_ = on(func(tx Tx, e events.Event, p *events.IdempotencyReleased) error {
		return updateIdem(tx, e, func(r *IdempotencyRecord) { r.State, r.CompletedAt, r.Status = IdemReleased, e.Time, p.Status })
	})
)

func idemID(ref events.Ref) string { return ref.Tenant + "/" + ref.ID }

// putIdem stores r as of e, to be dropped RetainSeconds after e (the
// key's last event) by the log's clock.
func putIdem(tx Tx, e events.Event, r IdempotencyRecord) error {
	r.LastSeq = e.Seq
	r.ExpiresAt = e.Time.Add(time.Duration(r.RetainSeconds) * time.Second)
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	id := idemID(e.Aggregate)
	if err := tx.Put(Doc{Kind: KindIdempotency, ID: id, Tenant: e.Aggregate.Tenant, Sort: SortTime(e.Time), Body: body}); err != nil {
		return err
	}
	return ExpireAt(tx, events.HighVolume, KindIdempotency, id, r.ExpiresAt)
}

// updateIdem applies change to the key's record. A record already
// dropped (its retention ended while its request ran) stays dropped.
func updateIdem(tx Tx, e events.Event, change func(*IdempotencyRecord)) error {
	d, err := tx.Get(KindIdempotency, idemID(e.Aggregate))
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var r IdempotencyRecord
	if err := json.Unmarshal(d.Body, &r); err != nil {
		return err
	}
	change(&r)
	return putIdem(tx, e, r)
}

// GetIdempotency returns the record of the key aggregate ref, or
// ErrNotFound.
func GetIdempotency(ctx context.Context, r Reader, ref events.Ref) (IdempotencyRecord, error) {
	d, err := r.Get(ctx, KindIdempotency, idemID(ref))
	if err != nil {
		return IdempotencyRecord{}, err
	}
	var rec IdempotencyRecord
	if err := json.Unmarshal(d.Body, &rec); err != nil {
		return IdempotencyRecord{}, errors.Join(ErrInvalid, err)
	}
	return rec, nil
}

package jwks

import (
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/sealing"
)

// build turns a into one atomic append: its events, the expected version
// of every key it changes (0 for the keys it creates) and its DedupeID.
// It generates and seals the keys a creates.
func build(now time.Time, a action, cfg Config, sealer *sealing.Sealer) (events.Append, Rotation, error) {
	b := &batch{now: now, cfg: cfg, sealer: sealer, app: events.Append{DedupeID: a.dedupe}}
	var rot Rotation
	switch a.op {
	case opGenesis:
		rot.Activated = b.create(now)
		b.add(events.KeyRef(rot.Activated), 0, events.KeyActivated{KID: rot.Activated})
	case opRotate, opActivate:
		rot.Activated = a.key.KID
		b.add(events.KeyRef(a.key.KID), a.key.Version, events.KeyActivated{KID: a.key.KID})
	case opRemove, opReplaceNext:
		b.add(events.KeyRef(a.key.KID), a.key.Version, events.KeyRemoved{KID: a.key.KID})
	}
	if a.retire.KID != "" {
		b.retire(a.retire)
	}
	if !a.nextAt.IsZero() {
		rot.Next, rot.ActivateAt = b.create(a.nextAt), a.nextAt
	}
	return b.app, rot, b.err
}

// batch accumulates the events of one append; the first error sticks.
type batch struct {
	now    time.Time
	cfg    Config
	sealer *sealing.Sealer
	app    events.Append
	seen   map[events.Ref]bool
	err    error
}

// add appends p to ref's aggregate, expecting version seq when it is the
// first event of ref in the batch.
func (b *batch) add(ref events.Ref, seq uint64, p events.Payload) {
	if b.err != nil {
		return
	}
	e, err := events.New(ref, events.System, b.now, p)
	if err != nil {
		b.err = err
		return
	}
	b.app.Events = append(b.app.Events, e)
	if !b.seen[ref] {
		if b.seen == nil {
			b.seen = map[events.Ref]bool{}
		}
		b.seen[ref] = true
		b.app.Expect = append(b.app.Expect, events.Expect{Ref: ref, Seq: seq})
	}
}

func (b *batch) retire(k projections.Key) {
	b.add(events.KeyRef(k.KID), k.Version, events.KeyRetired{
		KID: k.KID, RetiredAt: b.now, RemoveAfter: b.now.Add(b.cfg.retention()),
	})
}

// create generates a key of the configured algorithm, published now and
// activating at activateAt, and returns its kid.
func (b *batch) create(activateAt time.Time) string {
	if b.err != nil {
		return ""
	}
	kid := NewKID()
	p, err := newKeyCreated(kid, b.cfg, b.sealer, b.now, activateAt)
	if err != nil {
		b.err = err
		return ""
	}
	b.add(events.KeyRef(kid), 0, p)
	return kid
}

// newKeyCreated generates a key and returns its key.created payload, the
// private key sealed by sealer.
func newKeyCreated(kid string, cfg Config, sealer *sealing.Sealer, now, activateAt time.Time) (events.KeyCreated, error) {
	priv, err := Generate(cfg.Alg, cfg.RSABits)
	if err != nil {
		return events.KeyCreated{}, err
	}
	pub, err := PublicJWK(kid, cfg.Alg, priv)
	if err != nil {
		return events.KeyCreated{}, err
	}
	enc, err := Seal(sealer, kid, priv)
	if err != nil {
		return events.KeyCreated{}, err
	}
	return events.KeyCreated{
		KID: kid, Alg: cfg.Alg, PublicJWK: pub, PrivateKeyEnc: enc,
		CreatedAt: now.UTC(), PublishAt: now.UTC(), ActivateAt: activateAt.UTC(),
	}, nil
}

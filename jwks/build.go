package jwks

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/sealing"
)

// build turns a into one atomic append: its events, the expected version
// of every key it changes (0 for the keys it creates) and its DedupeID.
// It generates and seals the keys a creates.
func build(now time.Time, a action, cfg Config, sealer *sealing.Sealer) (events.Append, Rotation, error) {
	return buildAll(now, []action{a}, cfg, sealer)
}

// buildAll turns the actions as into one atomic append (RotateNow's, one
// action per family). Its DedupeID is the action's when there is one,
// else one naming them all; the Rotation is the first action's (the
// primary family's).
func buildAll(now time.Time, as []action, cfg Config, sealer *sealing.Sealer) (events.Append, Rotation, error) {
	b := &batch{now: now, cfg: cfg, sealer: sealer}
	var rot Rotation
	ids := make([]string, len(as))
	for i, a := range as {
		r := b.action(a)
		if i == 0 {
			rot = r
		}
		ids[i] = a.dedupe
	}
	b.app.DedupeID = ids[0]
	if len(ids) > 1 {
		sum := sha256.Sum256([]byte(strings.Join(ids, "\n")))
		b.app.DedupeID = "keys:all:" + base64.RawURLEncoding.EncodeToString(sum[:18])
	}
	return b.app, rot, b.err
}

// action adds the events of a.
func (b *batch) action(a action) Rotation {
	alg := a.alg
	if alg == "" {
		alg = b.cfg.Alg
	}
	var rot Rotation
	switch a.op {
	case opGenesis:
		algs := a.algs
		if len(algs) == 0 {
			algs = []string{alg}
		}
		// Every family's first key signs at once; the primary family's
		// next key is made too, the other families' by the next round
		// (create-next, off the start's path: an RSA key costs tens of
		// milliseconds of CPU, and it signs only in RotationPeriod).
		for i, alg := range algs {
			kid := b.create(alg, b.now)
			b.add(events.KeyRef(kid), 0, events.KeyActivated{KID: kid})
			if i == 0 {
				rot = Rotation{Activated: kid, Next: b.create(alg, a.nextAt), ActivateAt: a.nextAt}
			}
		}
		return rot
	case opRotate, opActivate:
		rot.Activated = a.key.KID
		b.add(events.KeyRef(a.key.KID), a.key.Version, events.KeyActivated{KID: a.key.KID})
	case opRemove, opReplaceNext, opDropNext:
		b.add(events.KeyRef(a.key.KID), a.key.Version, events.KeyRemoved{KID: a.key.KID})
	case opRetire:
		b.retire(a.key)
	}
	if a.retire.KID != "" {
		b.retire(a.retire)
	}
	if !a.nextAt.IsZero() {
		rot.Next, rot.ActivateAt = b.create(alg, a.nextAt), a.nextAt
	}
	return rot
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

// create generates a key of algorithm alg, published now and activating
// at activateAt, and returns its kid.
func (b *batch) create(alg string, activateAt time.Time) string {
	if b.err != nil {
		return ""
	}
	kid := NewKID()
	p, err := newKeyCreated(kid, alg, b.cfg.RSABits, b.sealer, b.now, activateAt)
	if err != nil {
		b.err = err
		return ""
	}
	b.add(events.KeyRef(kid), 0, p)
	return kid
}

// newKeyCreated generates a key and returns its key.created payload, the
// private key sealed by sealer.
func newKeyCreated(kid, alg string, rsaBits int, sealer *sealing.Sealer, now, activateAt time.Time) (events.KeyCreated, error) {
	priv, err := Generate(alg, rsaBits)
	if err != nil {
		return events.KeyCreated{}, err
	}
	pub, err := PublicJWK(kid, alg, priv)
	if err != nil {
		return events.KeyCreated{}, err
	}
	enc, err := Seal(sealer, kid, priv)
	if err != nil {
		return events.KeyCreated{}, err
	}
	return events.KeyCreated{
		KID: kid, Alg: alg, PublicJWK: pub, PrivateKeyEnc: enc,
		CreatedAt: now.UTC(), PublishAt: now.UTC(), ActivateAt: activateAt.UTC(),
	}, nil
}

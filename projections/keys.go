package projections

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// KindKey is the document kind of signing keys, by kid. Every key document
// belongs to tenant events.KeyTenant; a removed key has no document.
const KindKey = "key"

// KeyState is where a signing key stands (see package jwks for the
// lifecycle); a removed key has no document.
type KeyState string

// States of a signing key.
const (
	KeyNext    KeyState = "next"    // published, not signing yet
	KeyActive  KeyState = "active"  // published, signing
	KeyRetired KeyState = "retired" // published, no longer signing
)

// keysPageSize is how many key documents ListKeys reads per List call.
const keysPageSize = 100

// Key is one signing key as the keyring and the rotator see it.
// PrivateKeyEnc is sealed under the master key (see events.KeyCreated);
// the private key is never in a document in the clear. Version is the key
// aggregate's last sequence: the events.Expect.Seq of its next event.
type Key struct {
	// KeyCreated is the key as key.created made it.
	events.KeyCreated
	State       KeyState  `json:"state"`
	ActivatedAt time.Time `json:"activated_at,omitzero"`
	RetiredAt   time.Time `json:"retired_at,omitzero"`
	RemoveAfter time.Time `json:"remove_after,omitzero"`
	Version     uint64    `json:"version"`
}

var (
	_ = on(func(tx Tx, e events.Event, p *events.KeyCreated) error {
		return putKey(tx, e, Key{KeyCreated: *p, State: KeyNext})
	})
	_ = on(func(tx Tx, e events.Event, p *events.KeyActivated) error {
		return updateKey(tx, e, p.KID, func(k *Key) { k.State, k.ActivatedAt = KeyActive, e.Time })
	})
	_ = on(func(tx Tx, e events.Event, p *events.KeyRetired) error {
		return updateKey(tx, e, p.KID, func(k *Key) { k.State, k.RetiredAt, k.RemoveAfter = KeyRetired, p.RetiredAt, p.RemoveAfter })
	})
	_ = on(func(tx Tx, e events.Event, p *events.KeyRemoved) error {
		return tx.Delete(KindKey, p.KID)
	})
)

// putKey stores k as of event e. Key documents sort by creation time, so
// ListKeys returns the oldest key first.
func putKey(tx Tx, e events.Event, k Key) error {
	k.Version = e.Seq
	return putJSON(tx, Doc{Kind: KindKey, ID: k.KID, Tenant: events.KeyTenant, Sort: SortTime(k.CreatedAt)}, k)
}

// updateKey applies change to the document of kid. An event about a key
// that has no document is a broken log: it fails the apply.
func updateKey(tx Tx, e events.Event, kid string, change func(*Key)) error {
	return update(tx, e, KindKey, kid, change, func(_ Doc, k Key) error { return putKey(tx, e, k) })
}

// ListKeys returns every signing key that is not removed (next, active and
// retired), oldest first.
func ListKeys(ctx context.Context, r Reader) ([]Key, error) {
	var out []Key
	for after := ""; ; {
		docs, next, err := r.List(ctx, KindKey, events.KeyTenant, Page{After: after, Limit: keysPageSize})
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			k, err := decode[Key](d)
			if err != nil {
				return nil, err
			}
			out = append(out, k)
		}
		if next == "" {
			return out, nil
		}
		after = next
	}
}

package memory

import (
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/projections"
)

// ref names a document (kind, id) or a unique key (kind, key).
type ref = projections.DocRef

// tx is the overlay of one Update: what it wrote, read through before the
// committed state. It holds the store's wmu for its whole life, so reading
// the committed maps needs no other lock.
type tx struct {
	s    *Store
	w    projections.Overlay
	done bool
}

var errTxDone = errors.New("memory: transaction used after its Update returned")

// Get implements projections.Tx.
func (t *tx) Get(kind, id string) (projections.Doc, error) {
	if t.done {
		return projections.Doc{}, errTxDone
	}
	return found(t.doc(kind, id), kind, id)
}

// Lookup implements projections.Tx.
func (t *tx) Lookup(kind, key string) (projections.Doc, error) {
	if t.done {
		return projections.Doc{}, errTxDone
	}
	return found(t.doc(kind, t.holder(kind, key)), kind, key)
}

// List implements projections.Tx.
func (t *tx) List(kind, tenant string, p projections.Page) ([]projections.Doc, string, error) {
	if t.done {
		return nil, "", errTxDone
	}
	if _, _, err := p.Start(); err != nil {
		return nil, "", err
	}
	written := t.w.Written(kind)
	committed, _, err := t.s.list(kind, tenant, projections.Page{After: p.After, Limit: p.Limit + len(written) + 1})
	if err != nil {
		return nil, "", err
	}
	return projections.MergeList(p, tenant, committed, written)
}

// doc returns kind/id as this transaction sees it, nil if none.
func (t *tx) doc(kind, id string) *projections.Doc {
	if d, ok := t.w.Doc(kind, id); ok {
		return d
	}
	return t.s.doc(kind, id)
}

// holder returns the id of the document holding key as this transaction
// sees it, "" if none.
func (t *tx) holder(kind, key string) string {
	if id, ok := t.w.Holder(kind, key); ok {
		return id
	}
	return t.s.holder(kind, key)
}

// Put implements projections.Tx. It checks every key before it changes
// anything, so a failed Put leaves the transaction as it was.
func (t *tx) Put(d projections.Doc) error {
	if t.done {
		return errTxDone
	}
	nd, err := d.Normalized()
	if err != nil {
		return err
	}
	for _, key := range nd.Keys {
		if h := t.holder(nd.Kind, key); h != "" && h != nd.ID {
			return fmt.Errorf("%w: %s key %q is held by %s, not %s", projections.ErrKeyConflict, nd.Kind, key, h, nd.ID)
		}
	}
	t.w.Put(t.doc(nd.Kind, nd.ID), &nd)
	return nil
}

// Delete implements projections.Tx.
func (t *tx) Delete(kind, id string) error {
	if t.done {
		return errTxDone
	}
	old := t.doc(kind, id)
	if old == nil {
		return nil
	}
	t.w.Delete(old)
	return nil
}

package projections

import (
	"errors"
	"fmt"
	"slices"
)

// DocRef names a document (Kind, its ID as Name) or a unique key (Kind,
// the key as Name) inside a store.
type DocRef struct{ Kind, Name string }

// Overlay is what one store transaction (an Update) has written so far,
// read before the committed state: the memory and PostgreSQL stores'
// transactions both keep their writes in one, and each commits it its own
// way. The zero Overlay is empty and ready.
type Overlay struct {
	Docs map[DocRef]*Doc   // nil: deleted
	Keys map[DocRef]string // key → holder id; "": released
}

// Reset empties o for another transaction, keeping its maps (a store
// that runs one Update at a time reuses one Overlay: making both maps
// again, and growing them through a batch, was four allocations an
// Update and more a batch) but for those an unusually large batch grew
// (a rebuild's), whose clearing and iterating would cost by their size
// in every later Update.
func (o *Overlay) Reset() {
	o.Docs = resetMap(o.Docs)
	o.Keys = resetMap(o.Keys)
}

// overlayKept is the most entries an Overlay's map may have held to be
// kept by Reset: the projector's batches of up to 512 events write a few
// documents each; clearing a map of this size is about a microsecond.
const overlayKept = 4096

func resetMap[V any](m map[DocRef]V) map[DocRef]V {
	if len(m) > overlayKept {
		return nil
	}
	clear(m)
	return m
}

// Doc returns kind/id as the transaction wrote it (nil: deleted); ok is
// false when it did not write it.
func (o *Overlay) Doc(kind, id string) (d *Doc, ok bool) {
	d, ok = o.Docs[DocRef{kind, id}]
	return d, ok
}

// Holder returns the holder the transaction gave key of kind ("":
// released); ok is false when it did not touch the key.
func (o *Overlay) Holder(kind, key string) (id string, ok bool) {
	id, ok = o.Keys[DocRef{kind, key}]
	return id, ok
}

// Written returns the documents of kind the transaction wrote, by id
// (nil: deleted), for MergeList.
func (o *Overlay) Written(kind string) map[string]*Doc {
	written := map[string]*Doc{}
	for r, d := range o.Docs {
		if r.Kind == kind {
			written[r.Name] = d
		}
	}
	return written
}

// Put records nd, which replaces old (nil: none): the keys of old that
// nd does not hold are released, nd's own are held by it. The caller has
// checked that no other document holds them.
func (o *Overlay) Put(old, nd *Doc) {
	if old != nil {
		o.release(old, nd.Keys)
	}
	for _, key := range nd.Keys {
		o.setKey(DocRef{nd.Kind, key}, nd.ID)
	}
	o.setDoc(DocRef{nd.Kind, nd.ID}, nd)
}

// Delete records that old is gone and its keys are free.
func (o *Overlay) Delete(old *Doc) {
	o.release(old, nil)
	o.setDoc(DocRef{old.Kind, old.ID}, nil)
}

// release frees the keys of old that keep does not hold.
func (o *Overlay) release(old *Doc, keep []string) {
	for _, key := range old.Keys {
		if !slices.Contains(keep, key) {
			o.setKey(DocRef{old.Kind, key}, "")
		}
	}
}

func (o *Overlay) setDoc(r DocRef, d *Doc) {
	if o.Docs == nil {
		o.Docs = map[DocRef]*Doc{}
	}
	o.Docs[r] = d
}

func (o *Overlay) setKey(r DocRef, id string) {
	if o.Keys == nil {
		o.Keys = map[DocRef]string{}
	}
	o.Keys[r] = id
}

// Committed is a store's committed state as one Update's transaction
// reads it. The memory and PostgreSQL stores each give theirs to
// OverlayTx, which lays the transaction's writes (an Overlay) over it.
type Committed interface {
	// Doc returns the committed document kind/id, nil if none.
	Doc(kind, id string) (*Doc, error)
	// Holder returns the id of the committed document holding key of
	// kind, "" if none.
	Holder(kind, key string) (string, error)
	// Holders is Holder for several keys of kind at once.
	Holders(kind string, keys []string) (map[string]string, error)
	// List returns up to p.Limit committed documents of kind and tenant
	// after p's cursor, in list order. p passed Page.Start.
	List(kind, tenant string, p Page) ([]Doc, error)
	// Prepare checks a normalized document before it is written,
	// refusing (ErrInvalid) what the store cannot hold, and completes it
	// the way the store keeps it.
	Prepare(d *Doc) error
}

// OverlayTx is the Tx of one Update: its writes (Writes) read before the
// committed state. The store commits Writes when the Update's function
// returned nil, then calls Close: a transaction used after its Update
// returned fails.
type OverlayTx struct {
	Writes    Overlay
	committed Committed
	done      bool
}

var _ Tx = (*OverlayTx)(nil)

var errTxDone = errors.New("projections: transaction used after its Update returned")

// NewOverlayTx returns an empty transaction over c.
func NewOverlayTx(c Committed) *OverlayTx { return &OverlayTx{committed: c} }

// Close ends the transaction: every later call fails.
func (t *OverlayTx) Close() { t.done = true }

// Get implements Tx.
func (t *OverlayTx) Get(kind, id string) (Doc, error) {
	if t.done {
		return Doc{}, errTxDone
	}
	d, err := t.doc(kind, id)
	return Found(d, err, kind, id)
}

// Peek is Get without the copy: kind/id as this transaction sees it,
// nil if none. The document is the transaction's or the committed
// state's own, which nobody changes (a Put installs a new one): the
// caller must not change it either. Reducers read the view an event is
// about this way (peekDoc): copying its body (a grant's, read at every
// rotation) only to decode or compare it was an allocation a read.
func (t *OverlayTx) Peek(kind, id string) (*Doc, error) {
	if t.done {
		return nil, errTxDone
	}
	return t.doc(kind, id)
}

// Lookup implements Tx.
func (t *OverlayTx) Lookup(kind, key string) (Doc, error) {
	if t.done {
		return Doc{}, errTxDone
	}
	id, err := t.holder(kind, key)
	if err != nil || id == "" {
		return Found(nil, err, kind, key)
	}
	d, err := t.doc(kind, id)
	return Found(d, err, kind, key)
}

// List implements Tx: the committed page merged with the overlay.
func (t *OverlayTx) List(kind, tenant string, p Page) ([]Doc, string, error) {
	if t.done {
		return nil, "", errTxDone
	}
	if _, _, err := p.StartOf(kind); err != nil {
		return nil, "", err
	}
	written := t.Writes.Written(kind)
	committed, err := t.committed.List(kind, tenant, Page{After: p.After, Limit: p.Limit + len(written) + 1, Owner: p.Owner})
	if err != nil {
		return nil, "", err
	}
	return MergeList(p, tenant, committed, written)
}

// Put implements Tx. It reads what it needs (the document's previous
// version, the holders of its keys) before it changes anything, so a
// failed Put leaves the transaction as it was.
func (t *OverlayTx) Put(d Doc) error { return t.PutOwned(d.Clone()) }

// PutOwned is Put of a document whose Body and Keys the caller hands
// over: nobody changes them afterwards, so the transaction keeps them
// instead of copies (see putOwned).
func (t *OverlayTx) PutOwned(d Doc) error {
	if t.done {
		return errTxDone
	}
	nd, err := d.normalizedOwned()
	if err != nil {
		return err
	}
	return t.put(nd)
}

// put is Put of nd, normalized.
func (t *OverlayTx) put(nd Doc) error {
	if err := t.committed.Prepare(&nd); err != nil {
		return err
	}
	old, err := t.doc(nd.Kind, nd.ID)
	if err != nil {
		return err
	}
	if err := t.keysFree(old, nd); err != nil {
		return err
	}
	t.Writes.Put(old, &nd)
	return nil
}

// Delete implements Tx.
func (t *OverlayTx) Delete(kind, id string) error {
	if t.done {
		return errTxDone
	}
	old, err := t.doc(kind, id)
	if err != nil || old == nil {
		return err
	}
	t.Writes.Delete(old)
	return nil
}

// doc returns kind/id as this transaction sees it, nil if none.
func (t *OverlayTx) doc(kind, id string) (*Doc, error) {
	if d, ok := t.Writes.Doc(kind, id); ok {
		return d, nil
	}
	return t.committed.Doc(kind, id)
}

// holder returns the id of the document holding key as this transaction
// sees it, "" if none.
func (t *OverlayTx) holder(kind, key string) (string, error) {
	if id, ok := t.Writes.Holder(kind, key); ok {
		return id, nil
	}
	return t.committed.Holder(kind, key)
}

// keysFree checks that no document but nd holds one of nd's keys, as
// this transaction sees them. A key old (nd's previous version) holds is
// nd's own; the others the transaction did not touch are asked of the
// committed state, at once when there are several (a grant's rotation
// asks about one: its new refresh token's).
func (t *OverlayTx) keysFree(old *Doc, nd Doc) error {
	taken := func(key, h string) error {
		if h != "" && h != nd.ID {
			return fmt.Errorf("%w: %s key %q is held by %s, not %s", ErrKeyConflict, nd.Kind, key, h, nd.ID)
		}
		return nil
	}
	var ask []string // made only for a second key to ask about
	first := ""
	for _, key := range nd.Keys {
		if h, ok := t.Writes.Holder(nd.Kind, key); ok {
			if err := taken(key, h); err != nil {
				return err
			}
		} else if old != nil && slices.Contains(old.Keys, key) {
			continue
		} else if first == "" {
			first = key
		} else {
			ask = append(ask, key)
		}
	}
	if first == "" {
		return nil
	}
	if ask == nil {
		h, err := t.committed.Holder(nd.Kind, first)
		if err != nil {
			return err
		}
		return taken(first, h)
	}
	ask = append(ask, first)
	held, err := t.committed.Holders(nd.Kind, ask)
	if err != nil {
		return err
	}
	for _, key := range ask {
		if err := taken(key, held[key]); err != nil {
			return err
		}
	}
	return nil
}

// Found returns a copy of d, read with err, or ErrNotFound naming what
// was looked for when d is nil.
func Found(d *Doc, err error, kind, what string) (Doc, error) {
	switch {
	case err != nil:
		return Doc{}, err
	case d == nil:
		return Doc{}, NotFound(kind, what)
	}
	return d.Clone(), nil
}

// NotFound is ErrNotFound naming the kind of thing looked for and its id
// or key.
func NotFound(kind, what string) error { return &notFound{kind: kind, what: what} }

// notFound is ErrNotFound naming what was looked for, its text made only
// when asked for: a miss is the common answer of some reads on every
// request (a token that is not revoked), where fmt.Errorf's formatting
// showed in the proxy's profiles.
type notFound struct{ kind, what string }

func (e *notFound) Error() string {
	return fmt.Sprintf("%v: %s %q", ErrNotFound, e.kind, e.what)
}

func (e *notFound) Unwrap() error { return ErrNotFound }

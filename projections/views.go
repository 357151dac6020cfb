package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// SortLayout formats times for Doc.Sort: fixed width (always nine
// fractional digits, always UTC "Z"), so byte order is time order.
// time.RFC3339Nano is not: it drops trailing zeros, and "05Z" sorts after
// "05.1Z".
const SortLayout = "2006-01-02T15:04:05.000000000Z07:00"

// SortTime returns t as a Doc.Sort value (see SortLayout).
func SortTime(t time.Time) string { return t.UTC().Format(SortLayout) }

// putAppended is putJSON of a view that encodes itself, without boxing
// it.
func putAppended[V appenderJSON](tx Tx, d Doc, v V) error {
	body, err := v.AppendJSON(nil)
	if err != nil {
		return fmt.Errorf("projections: encode %s %s: %w", d.Kind, d.ID, err)
	}
	d.Body = body
	return putOwned(tx, d)
}

// putJSON stores v as the body of d.
func putJSON(tx Tx, d Doc, v any) error {
	if err := encodeBody(&d, v); err != nil {
		return err
	}
	return putOwned(tx, d)
}

// ownedPutter is a Tx that can keep a document's Body and Keys instead
// of copies (OverlayTx, the memory and PostgreSQL stores' transactions).
type ownedPutter interface{ PutOwned(Doc) error }

// putOwned is tx.Put of d, whose Body and Keys nobody changes afterwards
// (a body just encoded, a shared constant such as emptyBody): a
// transaction that can keep them does so without copying them.
func putOwned(tx Tx, d Doc) error {
	if ct, ok := tx.(cachingTx); ok {
		tx = ct.Tx // cachingTx adds nothing to Put
	}
	if o, ok := tx.(ownedPutter); ok {
		return o.PutOwned(d)
	}
	return tx.Put(d)
}

// peeker is a Tx that lends its documents instead of copies
// (OverlayTx.Peek).
type peeker interface {
	Peek(kind, id string) (*Doc, error)
}

// peekDoc returns kind/id as tx sees it, nil if none, for reading only:
// the transaction's own document when it lends it (OverlayTx), a copy
// otherwise.
func peekDoc(tx Tx, kind, id string) (*Doc, error) {
	if ct, ok := tx.(cachingTx); ok {
		tx = ct.Tx
	}
	if p, ok := tx.(peeker); ok {
		return p.Peek(kind, id)
	}
	d, err := tx.Get(kind, id)
	if isNotFound(err) {
		return nil, nil
	}
	return &d, err
}

// encodeBody sets d's body to the JSON of v.
func encodeBody(d *Doc, v any) error {
	var body []byte
	var err error
	if a, ok := v.(appenderJSON); ok {
		body, err = a.AppendJSON(nil)
	} else {
		body, err = json.Marshal(v)
	}
	if err != nil {
		return fmt.Errorf("projections: encode %s %s: %w", d.Kind, d.ID, err)
	}
	d.Body = body
	return nil
}

// decode returns the view in d's body.
func decode[V any](d Doc) (V, error) {
	var v V
	if err := json.Unmarshal(d.Body, &v); err != nil {
		return v, fmt.Errorf("projections: decode %s %s: %w", d.Kind, d.ID, err)
	}
	return v, nil
}

// getView reads the view kind/id and its document.
func getView[V any](ctx context.Context, r Reader, kind, id string) (V, Doc, error) {
	d, err := r.Get(ctx, kind, id)
	return viewOf(d, err, decode[V])
}

// getViewOr reads the view kind/id, or returns missing when there is
// none: for views whose absence is a state (a name never claimed, a
// counter never counted), not an error.
func getViewOr[V any](ctx context.Context, r Reader, kind, id string, missing V) (V, error) {
	v, _, err := getView[V](ctx, r, kind, id)
	if errors.Is(err, ErrNotFound) {
		return missing, nil
	}
	return v, err
}

// lookupView reads the view of kind holding key and its document.
func lookupView[V any](ctx context.Context, r Reader, kind, key string) (V, Doc, error) {
	d, err := r.Lookup(ctx, kind, key)
	return viewOf(d, err, decode[V])
}

// viewOf decodes with dec the document d a read returned with err.
func viewOf[V any](d Doc, err error, dec func(Doc) (V, error)) (V, Doc, error) {
	if err != nil {
		var zero V
		return zero, d, err
	}
	v, err := dec(d)
	return v, d, err
}

// listViews reads a page of a tenant's views of kind.
func listViews[V any](ctx context.Context, r Reader, kind, tenant string, p Page) ([]V, string, error) {
	return listDecoded(ctx, r, kind, tenant, p, decode[V])
}

// listDecoded reads a page of a tenant's documents of kind, each decoded
// with dec.
func listDecoded[V any](ctx context.Context, r Reader, kind, tenant string, p Page, dec func(Doc) (V, error)) ([]V, string, error) {
	docs, next, err := r.List(ctx, kind, tenant, p)
	if err != nil {
		return nil, "", err
	}
	out := make([]V, len(docs))
	for i, d := range docs {
		if out[i], err = dec(d); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

// create stores with put v, the view of kind that event e creates; one
// that exists already is a broken log, which fails the apply
// (createsView). With change, the shape of the reducers that do no more
// than store their view.
func create[V any](tx Tx, e events.Event, kind string, put func(Tx, events.Event, V) error, v V) error {
	if err := createsView(tx, e, kind); err != nil {
		return err
	}
	return put(tx, e, v)
}

// change applies f to the view that event e is about, read with load,
// then stores it with put: the shape of most reducers.
func change[V any](tx Tx, e events.Event, load func(Tx, events.Event) (V, error), put func(Tx, events.Event, V) error, f func(*V)) error {
	v, err := load(tx, e)
	if err != nil {
		return err
	}
	f(&v)
	return put(tx, e, v)
}

// update applies f to the view in document kind/id, which event e is
// about, and stores it with put (given the document it was read from).
// A missing document is a broken log: it fails the apply.
func update[V any](tx Tx, e events.Event, kind, id string, f func(*V), put func(Doc, V) error) error {
	d, err := tx.Get(kind, id)
	if err != nil {
		return fmt.Errorf("projections: %s for %s %s: %w", e.Type, kind, id, err)
	}
	v, err := decode[V](d)
	if err != nil {
		return err
	}
	f(&v)
	return put(d, v)
}

// claimable reports whether the document kind/id may hold key: nobody
// holds it, or that document does. Reducers use it for keys that a race
// between instances can duplicate in the log (names): the first holder
// keeps the key, deterministically, instead of stopping the projection.
func claimable(tx Tx, kind, key, id string) (bool, error) {
	d, err := tx.Lookup(kind, key)
	if errors.Is(err, ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return d.ID == id, nil
}

// claim adds key to d's keys if d may hold it (claimable).
func claim(tx Tx, d *Doc, key string) error {
	ok, err := claimable(tx, d.Kind, key, d.ID)
	if ok {
		d.Keys = append(d.Keys, key)
	}
	return err
}

// orEmpty returns s, or an empty slice for nil, so views encode [] and
// not null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/projections"
)

// tx is the Tx of one Update: an overlay of its writes, read before the
// store's cache and, when the cache does not know, the database (on the
// Update's connection, under its lock). Nothing is written to the
// database before the commit (see queueChanges).
type tx struct {
	s    *Store
	ctx  context.Context
	conn *pgxpool.Conn
	w    projections.Overlay
	done bool
}

var errTxDone = errors.New("postgres: transaction used after its Update returned")

// Get implements projections.Tx.
func (t *tx) Get(kind, id string) (projections.Doc, error) {
	if t.done {
		return projections.Doc{}, errTxDone
	}
	d, err := t.doc(kind, id)
	return found(d, err, kind, id)
}

// Lookup implements projections.Tx.
func (t *tx) Lookup(kind, key string) (projections.Doc, error) {
	if t.done {
		return projections.Doc{}, errTxDone
	}
	id, err := t.holder(kind, key)
	if err != nil || id == "" {
		return found(nil, err, kind, key)
	}
	d, err := t.doc(kind, id)
	return found(d, err, kind, key)
}

// List implements projections.Tx: the committed page, read on the
// Update's connection, merged with the overlay.
func (t *tx) List(kind, tenant string, p projections.Page) ([]projections.Doc, string, error) {
	if t.done {
		return nil, "", errTxDone
	}
	sort, id, ok, err := listStart(kind, tenant, p)
	if !ok || err != nil {
		return nil, "", err
	}
	written := t.w.Written(kind)
	committed, err := t.s.listOn(t.ctx, t.conn, kind, tenant, sort, id, int64(p.Limit)+int64(len(written))+1)
	if err != nil {
		return nil, "", err
	}
	return projections.MergeList(p, tenant, committed, written)
}

// found returns a copy of d, or ErrNotFound naming what was looked for.
func found(d *projections.Doc, err error, kind, what string) (projections.Doc, error) {
	switch {
	case err != nil:
		return projections.Doc{}, err
	case d == nil:
		return projections.Doc{}, notFound(kind, what)
	}
	return d.Clone(), nil
}

// doc returns kind/id as this transaction sees it, nil if none.
func (t *tx) doc(kind, id string) (*projections.Doc, error) {
	r := ref{Kind: kind, Name: id}
	if d, ok := t.w.Docs[r]; ok {
		return d, nil
	}
	if d, known := t.s.known.doc(r); known || !storable(kind) || !storable(id) {
		return d, nil
	}
	d, err := scanDoc(t.conn.QueryRow(t.ctx, t.s.sql.get, kind, id), kind, id)
	if errors.Is(err, pgx.ErrNoRows) {
		t.s.known.learnDoc(r, nil)
		return nil, nil
	}
	if err != nil {
		return nil, t.s.wrap("get", err)
	}
	t.s.known.learnDoc(r, &d)
	return &d, nil
}

// holder returns the id of the document holding key as this transaction
// sees it, "" if none.
func (t *tx) holder(kind, key string) (string, error) {
	r := ref{Kind: kind, Name: key}
	if id, ok := t.w.Keys[r]; ok {
		return id, nil
	}
	if id, known := t.s.known.holder(r); known || !storable(kind) || !storable(key) {
		return id, nil
	}
	var id string
	d, err := scanDoc(t.conn.QueryRow(t.ctx, t.s.sql.lookup, kind, key), kind, "", &id)
	if errors.Is(err, pgx.ErrNoRows) {
		t.s.known.learnKey(r, "")
		return "", nil
	}
	if err != nil {
		return "", t.s.wrap("lookup", err)
	}
	d.ID = id
	t.s.known.learnDoc(ref{Kind: kind, Name: id}, &d)
	t.s.known.learnKey(r, id)
	return id, nil
}

// holders returns the holders of keys of kind, asking the database in one
// query about those neither the overlay nor the cache knows.
func (t *tx) holders(kind string, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	var ask []string
	for _, k := range keys {
		r := ref{Kind: kind, Name: k}
		if id, ok := t.w.Keys[r]; ok {
			out[k] = id
		} else if id, known := t.s.known.holder(r); known {
			out[k] = id
		} else {
			ask = append(ask, k)
		}
	}
	if len(ask) == 0 {
		return out, nil
	}
	kinds := slices.Repeat([]string{kind}, len(ask))
	rows, err := t.conn.Query(t.ctx, t.s.sql.loadKeys, kinds, ask)
	if err != nil {
		return nil, t.s.wrap("keys", err)
	}
	var key, id string
	if _, err := pgx.ForEachRow(rows, []any{&key, &id}, func() error { out[key] = id; return nil }); err != nil {
		return nil, t.s.wrap("keys", err)
	}
	for _, k := range ask {
		t.s.known.learnKey(ref{Kind: kind, Name: k}, out[k]) // "" when no row
	}
	return out, nil
}

// Put implements projections.Tx. It reads what it needs (the document's
// previous version, the holders of its keys) before it changes anything,
// so a failed Put leaves the transaction as it was.
func (t *tx) Put(d projections.Doc) error {
	if t.done {
		return errTxDone
	}
	nd, err := d.Normalized()
	if err != nil {
		return err
	}
	if err := checkStorable(nd); err != nil {
		return err
	}
	if nd.Body == nil {
		nd.Body = []byte{}
	}
	old, err := t.doc(nd.Kind, nd.ID)
	if err != nil {
		return err
	}
	held, err := t.holders(nd.Kind, nd.Keys)
	if err != nil {
		return err
	}
	for _, key := range nd.Keys {
		if h := held[key]; h != "" && h != nd.ID {
			return fmt.Errorf("%w: %s key %q is held by %s, not %s", projections.ErrKeyConflict, nd.Kind, key, h, nd.ID)
		}
	}
	t.w.Put(old, &nd)
	return nil
}

// checkStorable refuses a document PostgreSQL text cannot hold.
func checkStorable(d projections.Doc) error {
	for _, s := range append([]string{d.Kind, d.ID, d.Tenant, d.Sort}, d.Keys...) {
		if !storable(s) {
			return fmt.Errorf("%w: %s/%s: PostgreSQL text holds neither NUL nor invalid UTF-8 (%q)", projections.ErrInvalid, d.Kind, d.ID, s)
		}
	}
	return nil
}

// Delete implements projections.Tx.
func (t *tx) Delete(kind, id string) error {
	if t.done {
		return errTxDone
	}
	old, err := t.doc(kind, id)
	if err != nil || old == nil {
		return err
	}
	t.w.Delete(old)
	return nil
}

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

// committed is the committed state as the Tx of one Update
// (projections.OverlayTx) reads it: the store's cache and, when the cache
// does not know, the database (on the Update's connection, under its
// lock). Nothing is written to the database before the commit (see
// queueChanges).
type committed struct {
	s    *Store
	ctx  context.Context
	conn *pgxpool.Conn
}

// Doc implements projections.Committed.
func (c committed) Doc(kind, id string) (*projections.Doc, error) {
	r := ref{Kind: kind, Name: id}
	if d, known := c.s.known.doc(r); known || !storable(kind) || !storable(id) {
		return d, nil
	}
	d, err := scanDoc(c.conn.QueryRow(c.ctx, c.s.sql.get, kind, id), kind, id)
	if errors.Is(err, pgx.ErrNoRows) {
		c.s.known.learnDoc(r, nil)
		return nil, nil
	}
	if err != nil {
		return nil, c.s.wrap("get", err)
	}
	c.s.known.learnDoc(r, &d)
	return &d, nil
}

// Holder implements projections.Committed. The query reads the holding
// document too, so the Lookup that asks needs no second one.
func (c committed) Holder(kind, key string) (string, error) {
	r := ref{Kind: kind, Name: key}
	if id, known := c.s.known.holder(r); known || !storable(kind) || !storable(key) {
		return id, nil
	}
	var id string
	d, err := scanDoc(c.conn.QueryRow(c.ctx, c.s.sql.lookup, kind, key), kind, "", &id)
	if errors.Is(err, pgx.ErrNoRows) {
		c.s.known.learnKey(r, "")
		return "", nil
	}
	if err != nil {
		return "", c.s.wrap("lookup", err)
	}
	d.ID = id
	c.s.known.learnDoc(ref{Kind: kind, Name: id}, &d)
	c.s.known.learnKey(r, id)
	return id, nil
}

// Holders implements projections.Committed, asking the database in one
// query about the keys the cache does not know.
func (c committed) Holders(kind string, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	var ask []string
	for _, k := range keys {
		if id, known := c.s.known.holder(ref{Kind: kind, Name: k}); known {
			out[k] = id
		} else {
			ask = append(ask, k)
		}
	}
	if len(ask) == 0 {
		return out, nil
	}
	kinds := slices.Repeat([]string{kind}, len(ask))
	rows, err := c.conn.Query(c.ctx, c.s.sql.loadKeys, kinds, ask)
	if err != nil {
		return nil, c.s.wrap("keys", err)
	}
	var key, id string
	if _, err := pgx.ForEachRow(rows, []any{&key, &id}, func() error { out[key] = id; return nil }); err != nil {
		return nil, c.s.wrap("keys", err)
	}
	for _, k := range ask {
		c.s.known.learnKey(ref{Kind: kind, Name: k}, out[k]) // "" when no row
	}
	return out, nil
}

// List implements projections.Committed: the committed page, read on the
// Update's connection.
func (c committed) List(kind, tenant string, p projections.Page) ([]projections.Doc, error) {
	sort, id, ok, err := listStart(kind, tenant, p)
	if !ok || err != nil {
		return nil, err
	}
	return c.s.listOn(c.ctx, c.conn, kind, tenant, p.Owner, sort, id, int64(p.Limit))
}

// Prepare implements projections.Committed: PostgreSQL text holds
// neither NUL nor invalid UTF-8, and a body is never NULL.
func (committed) Prepare(d *projections.Doc) error {
	for _, s := range append([]string{d.Kind, d.ID, d.Tenant, d.Sort, d.Owner}, d.Keys...) {
		if !storable(s) {
			return fmt.Errorf("%w: %s/%s: PostgreSQL text holds neither NUL nor invalid UTF-8 (%q)", projections.ErrInvalid, d.Kind, d.ID, s)
		}
	}
	if d.Body == nil {
		d.Body = []byte{}
	}
	return nil
}

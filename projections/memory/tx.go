package memory

import (
	"github.com/gatehouse/gatehouse/projections"
)

// ref names a document (kind, id) or a unique key (kind, key).
type ref = projections.DocRef

// committed is the committed state as the Tx of one Update
// (projections.OverlayTx) reads it. The Update holds the store's wmu for
// the transaction's whole life, so reading the committed maps needs no
// other lock.
type committed struct{ s *Store }

// Doc implements projections.Committed.
func (c committed) Doc(kind, id string) (*projections.Doc, error) { return c.s.doc(kind, id), nil }

// Holder implements projections.Committed.
func (c committed) Holder(kind, key string) (string, error) { return c.s.holder(kind, key), nil }

// Holders implements projections.Committed.
func (c committed) Holders(kind string, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		out[k] = c.s.holder(kind, k)
	}
	return out, nil
}

// List implements projections.Committed.
func (c committed) List(kind, tenant string, p projections.Page) ([]projections.Doc, error) {
	docs, _, err := c.s.list(kind, tenant, p)
	return docs, err
}

// Prepare implements projections.Committed: the memory store holds any
// document.
func (committed) Prepare(*projections.Doc) error { return nil }

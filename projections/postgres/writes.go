package postgres

import (
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/projections"
)

// queueChanges queues on b the statements that bring the database from
// the committed state to the overlay w, leaving out what the cache knows to
// be committed already. A key that changes holder is deleted (unless it
// is known to be free), then inserted if held: the deletes run first, so
// keys that move between documents in one transaction need no ordering of
// rows, and an insert that collides shows a cache that was wrong (the
// Update then fails, nothing is written). Every statement takes its rows
// as one array per column, for unnest (see statements).
func (s *Store) queueChanges(b *pgx.Batch, w *projections.Overlay) {
	var delKeyKind, delKey, delDocKind, delDocID []string
	var keyKind, key, keyID []string
	for r, id := range w.Keys {
		was, known := s.known.holder(r)
		if known && was == id {
			continue
		}
		if !known || was != "" {
			delKeyKind, delKey = append(delKeyKind, r.Kind), append(delKey, r.Name)
		}
		if id != "" {
			keyKind, key, keyID = append(keyKind, r.Kind), append(key, r.Name), append(keyID, id)
		}
	}
	var kind, id, tenant, sort, keys, owner []string
	var body [][]byte
	for r, d := range w.Docs {
		was, known := s.known.doc(r)
		switch {
		case known && sameDoc(was, d):
		case d == nil:
			delDocKind, delDocID = append(delDocKind, r.Kind), append(delDocID, r.Name)
		default:
			kind, id, tenant, sort = append(kind, d.Kind), append(id, d.ID), append(tenant, d.Tenant), append(sort, d.Sort)
			keys, body, owner = append(keys, arrayLiteral(d.Keys)), append(body, d.Body), append(owner, d.Owner)
		}
	}
	if len(delDocKind) > 0 {
		b.Queue(s.sql.deleteDocs, delDocKind, delDocID)
	}
	if len(delKeyKind) > 0 {
		b.Queue(s.sql.deleteKeys, delKeyKind, delKey)
	}
	if len(keyKind) > 0 {
		b.Queue(s.sql.insertKeys, keyKind, key, keyID)
	}
	if len(kind) > 0 {
		b.Queue(s.sql.upsertDocs, kind, id, tenant, sort, keys, body, owner)
	}
}

// sameDoc reports whether a and b (nil: absent) are the same document.
func sameDoc(a, b *projections.Doc) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Tenant == b.Tenant && a.Sort == b.Sort && a.Owner == b.Owner && slices.Equal(a.Keys, b.Keys) && string(a.Body) == string(b.Body)
}

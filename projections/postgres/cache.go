package postgres

import (
	"maps"

	"github.com/gatehouse/gatehouse/projections"
)

// ref names a document (kind, id) or a unique key (kind, key).
type ref = projections.DocRef

// cache is what the writer knows of the committed state: documents and
// key holders it has read or written. An entry is a fact about the
// committed state: a document (nil: there is none) or a key's holder (""
// : nobody). It is used under Store.wmu only, and trusted only while cp
// is the checkpoint the database shows (see sync).
type cache struct {
	max   int // entries, docs and keys together; < 0: keep nothing
	valid bool
	cp    projections.Checkpoint // the checkpoint our last commit left
	// table is the OID of the documents table it caches: another after
	// `gatehouse projections rebuild` swapped a rebuilt schema in.
	table int64
	docs  map[ref]*projections.Doc
	keys  map[ref]string
	// complete: docs and keys hold the whole committed state, so what
	// they lack does not exist. Absences are then not stored.
	complete bool
}

func newCache(max int) *cache {
	return &cache{max: max, docs: map[ref]*projections.Doc{}, keys: map[ref]string{}}
}

// current reports whether the cache may be used at checkpoint cp, read
// under the Update lock with the OID of the documents table: nobody else
// has committed since our last commit, and the table is the same.
func (c *cache) current(cp projections.Checkpoint, table int64) bool {
	return c.valid && maps.Equal(c.cp, cp) && c.table == table
}

// reset forgets everything: the committed state is now at cp, and the
// store holds no document when empty is true.
func (c *cache) reset(cp projections.Checkpoint, table int64, empty bool) {
	clear(c.docs)
	clear(c.keys)
	c.cp, c.table, c.valid, c.complete = cp, table, c.max >= 0, empty && c.max > 0
}

// invalidate makes the next Update start over (a commit whose outcome is
// unknown, or a database that disagreed with the cache).
func (c *cache) invalidate() {
	c.valid, c.complete = false, false
	clear(c.docs)
	clear(c.keys)
}

// doc returns what the cache knows of document r.
func (c *cache) doc(r ref) (d *projections.Doc, known bool) {
	if d, ok := c.docs[r]; ok {
		return d, true
	}
	return nil, c.complete
}

// holder returns what the cache knows of key r.
func (c *cache) holder(r ref) (id string, known bool) {
	if id, ok := c.keys[r]; ok {
		return id, true
	}
	return "", c.complete
}

// learnDoc records committed document r (nil: absent) and, when it
// exists, that it holds its keys.
func (c *cache) learnDoc(r ref, d *projections.Doc) {
	if !c.valid {
		return
	}
	c.setDoc(r, d)
	if d != nil {
		for _, k := range d.Keys {
			c.setKey(ref{Kind: r.Kind, Name: k}, d.ID)
		}
	}
}

// learnKey records that committed key r is held by id ("" = nobody).
func (c *cache) learnKey(r ref, id string) {
	if c.valid {
		c.setKey(r, id)
	}
}

func (c *cache) setDoc(r ref, d *projections.Doc) {
	if d == nil && c.complete {
		delete(c.docs, r)
		return
	}
	c.docs[r] = d
}

func (c *cache) setKey(r ref, id string) {
	if id == "" && c.complete {
		delete(c.keys, r)
		return
	}
	c.keys[r] = id
}

// committed installs a transaction's overlay, now committed at cp.
func (c *cache) committed(docs map[ref]*projections.Doc, keys map[ref]string, cp projections.Checkpoint) {
	if !c.valid {
		return
	}
	for r, d := range docs {
		c.setDoc(r, d)
	}
	for r, id := range keys {
		c.setKey(r, id)
	}
	c.cp = cp
	c.trim()
}

// trim evicts arbitrary entries (map order is random) down to three
// quarters of max once the cache holds more than max; the cache is then
// no longer complete.
func (c *cache) trim() {
	if len(c.docs)+len(c.keys) <= c.max {
		return
	}
	c.complete = false
	target := c.max * 3 / 4
	for r := range c.docs {
		if len(c.docs)+len(c.keys) <= target {
			return
		}
		delete(c.docs, r)
	}
	for r := range c.keys {
		if len(c.docs)+len(c.keys) <= target {
			return
		}
		delete(c.keys, r)
	}
}

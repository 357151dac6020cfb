package projections

import "slices"

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

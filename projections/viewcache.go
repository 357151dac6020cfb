package projections

import (
	"bytes"
	"context"
	"sync"
)

// viewCacheSize bounds the decoded views a projector keeps.
const viewCacheSize = 16_384

// viewCache keeps the decoded view of the documents a projector wrote
// last, so the next event of the same aggregate need not decode the JSON
// it just encoded (decoding an App costs several times what encoding
// does). An entry serves a read only if the document's body is, byte for
// byte, the body it was encoded to, so a hit gives what decoding would:
// whatever a failed or foreign transaction left, the cache cannot change
// what is stored.
type viewCache struct {
	mu sync.Mutex
	m  map[docRef]cachedView
}

type docRef struct{ kind, id string }

type cachedView struct {
	body []byte
	view any
}

func newViewCache() *viewCache { return &viewCache{m: map[docRef]cachedView{}} }

// get returns the view cached for d's body.
func (c *viewCache) get(d Doc) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[docRef{d.Kind, d.ID}]
	if !ok || !bytes.Equal(e.body, d.Body) {
		return nil, false
	}
	return e.view, true
}

// put remembers that body, which nobody may change, decodes to view.
func (c *viewCache) put(d Doc, view any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= viewCacheSize {
		for k := range c.m { // map order is random: evict an arbitrary entry
			delete(c.m, k)
			break
		}
	}
	c.m[docRef{d.Kind, d.ID}] = cachedView{body: d.Body, view: view}
}

// cachingTx is the Tx the projector gives reducers: a Tx with the
// projector's view cache.
type cachingTx struct {
	Tx
	views *viewCache
}

// decodeCached is decode through tx's view cache, when it has one. clone
// copies a cached view so that the caller may change it freely.
func decodeCached[V any](tx Tx, d Doc, clone func(V) V) (V, error) {
	ct, ok := tx.(cachingTx)
	if !ok {
		return decode[V](d)
	}
	if v, ok := ct.views.get(d); ok {
		return clone(v.(V)), nil
	}
	v, err := decode[V](d)
	if err == nil {
		ct.views.put(d, clone(v))
	}
	return v, err
}

// putCached is putJSON that also caches v under the body it was encoded
// to, when tx has a view cache. v must not be changed afterwards.
func putCached(tx Tx, d Doc, v any) error {
	if err := encodeBody(&d, v); err != nil {
		return err
	}
	if err := tx.Put(d); err != nil {
		return err
	}
	if ct, ok := tx.(cachingTx); ok {
		ct.views.put(d, v)
	}
	return nil
}

// readViews caches the views that reads decode, the same way: an entry
// serves only a document whose body is byte for byte the one it was
// decoded from, so it is right for any store and any write that happened
// since. Token requests and platform API calls read their app on every
// request; this spares them the JSON decoding.
var readViews = newViewCache()

// getCachedView is getView through readViews; clone copies the cached
// view for the caller.
func getCachedView[V any](ctx context.Context, r Reader, kind, id string, clone func(V) V) (V, Doc, error) {
	d, err := r.Get(ctx, kind, id)
	if err != nil {
		var zero V
		return zero, d, err
	}
	v, err := decodeRead(d, clone)
	return v, d, err
}

// lookupCachedView is lookupView through readViews.
func lookupCachedView[V any](ctx context.Context, r Reader, kind, key string, clone func(V) V) (V, Doc, error) {
	d, err := r.Lookup(ctx, kind, key)
	if err != nil {
		var zero V
		return zero, d, err
	}
	v, err := decodeRead(d, clone)
	return v, d, err
}

func decodeRead[V any](d Doc, clone func(V) V) (V, error) {
	if v, ok := readViews.get(d); ok {
		return clone(v.(V)), nil
	}
	v, err := decode[V](d)
	if err == nil {
		readViews.put(d, clone(v))
	}
	return v, err
}

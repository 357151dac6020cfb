package projections

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/gatehouse/gatehouse/events"
)

// Bounds of a view cache: how many views it keeps, and how many bytes of
// bodies (the views themselves take about as much again). A document
// whose body is above maxCachedBody is never cached: it is decoded from
// the store each time, so that a kind of large document (a delivery with
// its body, until retention drops it) cannot fill the cache with
// megabytes per entry (issue 12: 10,000 failed deliveries of 64 KB grew
// the live heap by ~1.3 GB through this cache).
const (
	viewCacheSize  = 16_384
	viewCacheBytes = 16 << 20
	maxCachedBody  = 16 << 10
)

// viewCache keeps the decoded view of the documents a projector wrote
// last, so the next event of the same aggregate need not decode the JSON
// it just encoded (decoding an App costs several times what encoding
// does). An entry serves a read only if the document's body is, byte for
// byte, the body it was encoded to, so a hit gives what decoding would:
// whatever a failed or foreign transaction left, the cache cannot change
// what is stored.
//
// A document deleted through the cache's Tx (retention drops, deletions)
// is forgotten at once: a dropped document keeps no memory here.
type viewCache struct {
	mu    sync.Mutex
	m     map[docRef]cachedView
	bytes int // the sum of the cached bodies' lengths
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

// put remembers that body, which nobody may change, decodes to view. A
// body above maxCachedBody is not kept (and an older view of the same
// document is forgotten).
func (c *viewCache) put(d Doc, view any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ref := docRef{d.Kind, d.ID}
	c.forgetLocked(ref)
	if len(d.Body) > maxCachedBody {
		return
	}
	for len(c.m) > 0 && (len(c.m) >= viewCacheSize || c.bytes+len(d.Body) > viewCacheBytes) {
		for k := range c.m { // map order is random: evict an arbitrary entry
			c.forgetLocked(k)
			break
		}
	}
	c.m[ref] = cachedView{body: d.Body, view: view}
	c.bytes += len(d.Body)
}

// forget drops the view of kind/id, if one is cached.
func (c *viewCache) forget(kind, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetLocked(docRef{kind, id})
}

func (c *viewCache) forgetLocked(ref docRef) {
	if e, ok := c.m[ref]; ok {
		c.bytes -= len(e.body)
		delete(c.m, ref)
	}
}

// size returns how many views and bytes of bodies c holds.
func (c *viewCache) size() (views, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m), c.bytes
}

// cachingTx is the Tx the projector gives reducers: a Tx with the
// projector's view cache.
type cachingTx struct {
	Tx
	views *viewCache
}

// Delete deletes kind/id and forgets its cached views, the projector's
// and the reads' (readViews): a document retention dropped must not stay
// in memory through a cache. Forgetting is right whether or not the
// transaction commits.
func (t cachingTx) Delete(kind, id string) error {
	t.views.forget(kind, id)
	readViews.forget(kind, id)
	return t.Tx.Delete(kind, id)
}

// decodeCached is decode through tx's view cache, when it has one. clone
// copies a cached view so that the caller may change it freely.
func decodeCached[V any](tx Tx, d Doc, clone func(V) V) (V, error) {
	ct, ok := tx.(cachingTx)
	if !ok {
		return decode[V](d)
	}
	return decodeThrough(ct.views, d, clone)
}

// decodeThrough is decode through the view cache c: a hit is cloned, a
// miss decoded and a clone of it cached.
func decodeThrough[V any](c *viewCache, d Doc, clone func(V) V) (V, error) {
	if v, ok := c.get(d); ok {
		return clone(v.(V)), nil
	}
	v, err := decode[V](d)
	if err == nil {
		c.put(d, clone(v))
	}
	return v, err
}

// createsView checks that the view of kind event e creates does not
// exist yet: a second creation is a broken log, which fails the apply.
func createsView(tx Tx, e events.Event, kind string) error {
	doc, err := peekDoc(tx, kind, e.Aggregate.ID)
	if err == nil && doc != nil {
		return fmt.Errorf("projections: %s for %s %s, which exists", e.Type, kind, e.Aggregate.ID)
	}
	return err
}

// loadView reads, through tx's view cache, the view of kind that event
// e is about. An event about an aggregate that has no document, or whose
// document belongs to another tenant, is a broken log: it fails the
// apply.
func loadView[V any](tx Tx, e events.Event, kind string, clone func(V) V) (V, error) {
	var zero V
	d, err := peekDoc(tx, kind, e.Aggregate.ID)
	if err == nil && d == nil {
		err = NotFound(kind, e.Aggregate.ID)
	}
	if err != nil {
		return zero, fmt.Errorf("projections: %s for %s %s: %w", e.Type, kind, e.Aggregate.ID, err)
	}
	if d.Tenant != e.Tenant() {
		return zero, fmt.Errorf("projections: %s of tenant %s for %s %s of tenant %s", e.Type, e.Tenant(), kind, d.ID, d.Tenant)
	}
	return decodeCached(tx, *d, clone)
}

// putCached is putJSON that also caches v under the body it was encoded
// to, when tx has a view cache. v must not be changed afterwards.
func putCached(tx Tx, d Doc, v any) error {
	_, err := putCachedDoc(tx, d, v)
	return err
}

// putCachedDoc is putCached that returns d as stored (its body set), for
// a caller that caches v elsewhere too.
func putCachedDoc(tx Tx, d Doc, v any) (Doc, error) {
	if err := encodeBody(&d, v); err != nil {
		return d, err
	}
	if err := putOwned(tx, d); err != nil {
		return d, err
	}
	if ct, ok := tx.(cachingTx); ok {
		ct.views.put(d, v)
	}
	return d, nil
}

// readViews caches the views that reads decode, the same way: an entry
// serves only a document whose body is byte for byte the one it was
// decoded from, so it is right for any store and any write that happened
// since. Token requests and platform API calls read their app on every
// request; this spares them the JSON decoding.
var readViews = newViewCache()

// getCachedView is getView through readViews; clone copies the cached
// view for the caller. The Doc it returns may be without its body and
// keys (peekedView): callers read its kind, id, tenant and sort only.
func getCachedView[V any](ctx context.Context, r Reader, kind, id string, clone func(V) V) (V, Doc, error) {
	if pk, ok := r.(Peeker); ok {
		return peekedView(pk.PeekDoc(kind, id), kind, id, clone)
	}
	d, err := r.Get(ctx, kind, id)
	return viewOf(d, err, readDecoder(clone))
}

// lookupCachedView is lookupView through readViews, returning a Doc as
// getCachedView does.
func lookupCachedView[V any](ctx context.Context, r Reader, kind, key string, clone func(V) V) (V, Doc, error) {
	if pk, ok := r.(Peeker); ok {
		return peekedView(pk.PeekKey(kind, key), kind, key, clone)
	}
	d, err := r.Lookup(ctx, kind, key)
	return viewOf(d, err, readDecoder(clone))
}

// peekedView is the view of d, a stored document a Peeker lent (nil: not
// found, what naming it): a clone of the cached view when readViews holds
// one for d's body, which is compared where it is stored, not copied;
// else decoded from a copy of d, which is returned. On a hit the Doc
// returned is d's kind, id, tenant and sort only.
func peekedView[V any](d *Doc, kind, what string, clone func(V) V) (V, Doc, error) {
	if d == nil {
		var zero V
		return zero, Doc{}, NotFound(kind, what)
	}
	if v, ok := readViews.get(*d); ok {
		return clone(v.(V)), Doc{Kind: d.Kind, ID: d.ID, Tenant: d.Tenant, Sort: d.Sort}, nil
	}
	c := d.Clone()
	v, err := decodeRead(c, clone)
	return v, c, err
}

// listCachedViews is listViews through readViews: a document whose body
// is the one a view was decoded from last is not decoded again. The apps
// list (REST, GraphQL and the console's apps page) reads 50 documents a
// page; decoding them was a third of a page's cost.
func listCachedViews[V any](ctx context.Context, r Reader, kind, tenant string, p Page, clone func(V) V) ([]V, string, error) {
	return listDecoded(ctx, r, kind, tenant, p, readDecoder(clone))
}

// getTenantView is getCachedView of tenant's view kind/id. A view of
// another tenant is ErrNotFound like a missing one, so that its
// existence does not leak.
func getTenantView[V any](ctx context.Context, r Reader, tenant, kind, id string, clone func(V) V) (V, error) {
	v, d, err := getCachedView(ctx, r, kind, id, clone)
	if err == nil && d.Tenant != tenant {
		var zero V
		return zero, NotFound(kind, id)
	}
	return v, err
}

// readDecoder decodes documents through readViews.
func readDecoder[V any](clone func(V) V) func(Doc) (V, error) {
	return func(d Doc) (V, error) { return decodeRead(d, clone) }
}

func decodeRead[V any](d Doc, clone func(V) V) (V, error) {
	return decodeThrough(readViews, d, clone)
}

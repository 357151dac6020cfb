package projections

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/events"
)

// memReader is a Reader over a map: enough to see what the read cache
// does between reads.
type memReader struct{ docs map[string]Doc }

func (m memReader) Get(_ context.Context, kind, id string) (Doc, error) {
	d, ok := m.docs[kind+"/"+id]
	if !ok {
		return Doc{}, ErrNotFound
	}
	return d.Clone(), nil
}
func (m memReader) Lookup(context.Context, string, string) (Doc, error) { return Doc{}, ErrNotFound }
func (m memReader) List(context.Context, string, string, Page) ([]Doc, string, error) {
	return nil, "", nil
}
func (m memReader) Checkpoint(context.Context) (Checkpoint, error) { return nil, nil }

func TestReadCacheFollowsTheBody(t *testing.T) {
	r := memReader{docs: map[string]Doc{}}
	put := func(name string) {
		d := Doc{Kind: KindApp, ID: "app_rc", Tenant: "t"}
		if err := encodeBody(&d, App{ID: "app_rc", Tenant: "t", AppSettings: events.AppSettings{Name: name}, Scopes: []AppScope{{Scope: "a", Status: "approved"}}}); err != nil {
			t.Fatal(err)
		}
		r.docs[KindApp+"/app_rc"] = d
	}
	put("one")
	a, err := GetApp(context.Background(), r, "t", "app_rc")
	if err != nil || a.Name != "one" {
		t.Fatalf("first read: %+v, %v", a, err)
	}
	a.Scopes[0].Status = "rejected" // a caller changing its copy
	b, _ := GetApp(context.Background(), r, "t", "app_rc")
	if b.Scopes[0].Status != "approved" {
		t.Fatal("a cached view was changed through a copy a read returned")
	}
	put("two")
	c, _ := GetApp(context.Background(), r, "t", "app_rc")
	if c.Name != "two" {
		t.Fatalf("read after a write: name %q, want two (a stale cached view)", c.Name)
	}
	if _, err := GetApp(context.Background(), r, "other", "app_rc"); err == nil {
		t.Fatal("another tenant's app was found")
	}
}

// memTx is a Tx over a map, enough for the view cache's tests.
type memTx struct{ docs map[string]Doc }

func (m memTx) Get(kind, id string) (Doc, error) {
	d, ok := m.docs[kind+"/"+id]
	if !ok {
		return Doc{}, ErrNotFound
	}
	return d, nil
}
func (m memTx) Lookup(string, string) (Doc, error) { return Doc{}, ErrNotFound }
func (m memTx) List(string, string, Page) ([]Doc, string, error) {
	return nil, "", nil
}
func (m memTx) Put(d Doc) error {
	m.docs[d.Kind+"/"+d.ID] = d
	return nil
}
func (m memTx) Delete(kind, id string) error {
	if _, ok := m.docs[kind+"/"+id]; !ok {
		return ErrNotFound
	}
	delete(m.docs, kind+"/"+id)
	return nil
}

type bigView struct {
	Data string `json:"data"`
}

// TestViewCacheForgetsDeletedDocuments: a document the projector deletes
// (retention's sweep) leaves no view behind, in the projector's cache or
// in the reads' one, so dropped documents free their memory.
func TestViewCacheForgetsDeletedDocuments(t *testing.T) {
	views := newViewCache()
	tx := cachingTx{Tx: memTx{docs: map[string]Doc{}}, views: views}
	d := Doc{Kind: KindDelivery, ID: "dlv_forget", Tenant: "t"}
	if err := putCached(tx, d, bigView{Data: "small"}); err != nil {
		t.Fatal(err)
	}
	stored, _ := tx.Get(KindDelivery, "dlv_forget")
	if _, err := decodeRead[bigView](stored, func(v bigView) bigView { return v }); err != nil {
		t.Fatal(err)
	}
	if n, _ := views.size(); n != 1 {
		t.Fatalf("the projector's cache holds %d views after a put, want 1", n)
	}
	if _, ok := readViews.get(stored); !ok {
		t.Fatal("a read did not cache its view (the test would prove nothing)")
	}
	if err := tx.Delete(KindDelivery, "dlv_forget"); err != nil {
		t.Fatal(err)
	}
	if n, b := views.size(); n != 0 || b != 0 {
		t.Fatalf("after the delete the projector's cache holds %d views, %d bytes; want none", n, b)
	}
	if _, ok := readViews.get(stored); ok {
		t.Fatal("after the delete the reads' cache still serves the deleted document's view")
	}
}

// TestViewCacheSkipsLargeBodies: a view whose body is above
// maxCachedBody is not kept (it is decoded from the store each time),
// and the bytes a cache keeps stay within viewCacheBytes.
func TestViewCacheSkipsLargeBodies(t *testing.T) {
	views := newViewCache()
	tx := cachingTx{Tx: memTx{docs: map[string]Doc{}}, views: views}
	big := bigView{Data: strings.Repeat("x", maxCachedBody)}
	if err := putCached(tx, Doc{Kind: KindDelivery, ID: "dlv_big", Tenant: "t"}, big); err != nil {
		t.Fatal(err)
	}
	if n, _ := views.size(); n != 0 {
		t.Fatalf("a %d-byte view was cached", maxCachedBody)
	}
	stored, _ := tx.Get(KindDelivery, "dlv_big")
	v, err := decodeCached(tx, stored, func(v bigView) bigView { return v })
	if err != nil || v.Data != big.Data {
		t.Fatalf("decode of the large document: %v", err)
	}
	if n, _ := views.size(); n != 0 {
		t.Fatal("decoding a large document cached its view")
	}
	if _, err := decodeRead(stored, func(v bigView) bigView { return v }); err != nil {
		t.Fatal(err)
	}
	if _, ok := readViews.get(stored); ok {
		t.Fatal("a read cached the view of a large document")
	}
	// Replacing a small document by a large one forgets the small view.
	small := Doc{Kind: KindDelivery, ID: "dlv_grow", Tenant: "t"}
	if err := putCached(tx, small, bigView{Data: "small"}); err != nil {
		t.Fatal(err)
	}
	if err := putCached(tx, small, big); err != nil {
		t.Fatal(err)
	}
	if n, b := views.size(); n != 0 || b != 0 {
		t.Fatalf("after growing past the bound the cache holds %d views, %d bytes", n, b)
	}
	// Many documents just under the bound: the bytes stay bounded.
	mid := bigView{Data: strings.Repeat("y", maxCachedBody-64)}
	for i := range 2 * viewCacheBytes / maxCachedBody {
		if err := putCached(tx, Doc{Kind: KindDelivery, ID: fmt.Sprintf("dlv_%d", i), Tenant: "t"}, mid); err != nil {
			t.Fatal(err)
		}
	}
	if n, b := views.size(); b > viewCacheBytes || n == 0 {
		t.Fatalf("the cache holds %d views, %d bytes; want some, at most %d bytes", n, b, viewCacheBytes)
	}
}

package projections

import (
	"context"
	"testing"
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
		if err := encodeBody(&d, App{ID: "app_rc", Tenant: "t", Name: name, Scopes: []AppScope{{Scope: "a", Status: "approved"}}}); err != nil {
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

package memory

import (
	"cmp"
	"context"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/btree"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// Store is the in-memory projections.Store. The zero value is not usable;
// call New.
type Store struct {
	// wmu admits one Update at a time. The holder may read the maps below
	// without mu: only a commit, which also holds wmu, changes them.
	wmu sync.Mutex
	// mu guards kinds and cp against the commit that installs a
	// transaction; readers hold it for reading.
	mu    sync.RWMutex
	kinds map[string]*kind
	cp    projections.Checkpoint
	// changes count the commits per kind (projections.ChangeCounter),
	// kinds hashed to one of changeSlots counters: a kind that shares its
	// counter sees the other's commits as its own (a cache then misses
	// where it need not, never the reverse).
	changes [changeSlots]atomic.Uint64
	// spare is the Overlay of the next Update, emptied (guarded by wmu).
	spare projections.Overlay
}

// changeSlots is the number of change counters: more than there are
// kinds, so that few share one.
const changeSlots = 256

// changeSeed seeds the hash of kinds to their counters.
var changeSeed = maphash.MakeSeed()

// changeSlot is the counter of kind.
func changeSlot(kind string) int {
	return int(maphash.String(changeSeed, kind) % changeSlots)
}

// Changes implements projections.ChangeCounter: a commit moves the counts
// of the kinds it writes while it holds mu, so a reader that reads a count
// and then the store sees that commit's documents or a later count.
func (s *Store) Changes(kind string) uint64 {
	return s.changes[changeSlot(kind)].Load()
}

var (
	_ projections.Store         = (*Store)(nil)
	_ projections.Peeker        = (*Store)(nil)
	_ projections.ChangeCounter = (*Store)(nil)
)

// kind holds the documents of one kind. Stored documents are never
// changed: a Put installs a new *Doc.
type kind struct {
	docs map[string]*projections.Doc
	keys map[string]string // unique key → id
	// lists order each tenant's documents by (Sort, ID) for List: the
	// positions only, the documents being read from docs. A Put that
	// keeps a document's tenant and Sort (a grant rewritten at every
	// rotation, an expiry that does not move) leaves its list alone. A
	// kind that is never listed (projections.Listed) has none. A
	// document with an Owner is also in its owner's list (listKey with
	// the owner), installed and removed in the same commit, so a List of
	// one owner (Page.Owner) walks that owner's documents only.
	lists  map[listKey]*btree.BTreeG[position]
	listed bool
}

// listKey names a list of a kind: a tenant's (owner "") or one owner's
// within a tenant.
type listKey struct{ tenant, owner string }

// position is a document's place in its tenant's list.
type position struct{ sort, id string }

// btreeDegree suits small items: wide nodes, shallow trees.
const btreeDegree = 32

// New returns an empty store.
func New() *Store {
	return &Store{kinds: map[string]*kind{}, cp: projections.Checkpoint{}}
}

// byPosition orders a tenant's documents by (Sort, ID). One string
// comparison a field, and the ID only when the Sort is the same: the
// lists of tokens and expiries hold many documents of one Sort (a grant,
// a second) whose IDs share long prefixes, and cmp.Or of two cmp.Compare
// (two comparisons of each field, both fields always) made byPosition 5 %
// of a refresh rotation's CPU.
func byPosition(a, b position) bool {
	if c := strings.Compare(a.sort, b.sort); c != 0 {
		return c < 0
	}
	return a.id < b.id
}

// Get implements projections.Reader.
func (s *Store) Get(_ context.Context, kind, id string) (projections.Doc, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return projections.Found(s.doc(kind, id), nil, kind, id)
}

// Lookup implements projections.Reader.
func (s *Store) Lookup(_ context.Context, kind, key string) (projections.Doc, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return projections.Found(s.doc(kind, s.holder(kind, key)), nil, kind, key)
}

// PeekDoc implements projections.Peeker: stored documents are never
// changed (see kind).
func (s *Store) PeekDoc(kind, id string) *projections.Doc {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.doc(kind, id)
}

// PeekKey implements projections.Peeker.
func (s *Store) PeekKey(kind, key string) *projections.Doc {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.doc(kind, s.holder(kind, key))
}

// doc returns the committed document kind/id, nil if none.
func (s *Store) doc(kind, id string) *projections.Doc {
	if k := s.kinds[kind]; k != nil && id != "" {
		return k.docs[id]
	}
	return nil
}

// holder returns the id of the committed document holding key, "" if none.
func (s *Store) holder(kind, key string) string {
	if k := s.kinds[kind]; k != nil {
		return k.keys[key]
	}
	return ""
}

// List implements projections.Reader.
func (s *Store) List(_ context.Context, kind, tenant string, p projections.Page) ([]projections.Doc, string, error) {
	if _, _, err := p.StartOf(kind); err != nil {
		return nil, "", err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.list(kind, tenant, p)
}

// list is List of the committed documents; callers hold mu, or wmu.
func (s *Store) list(kind, tenant string, p projections.Page) ([]projections.Doc, string, error) {
	sort, id, err := p.StartOf(kind)
	if err != nil {
		return nil, "", err
	}
	k := s.kinds[kind]
	if k == nil || k.lists[listKey{tenant, p.Owner}] == nil {
		return nil, "", nil
	}
	list := k.lists[listKey{tenant, p.Owner}]
	// Room for the page and the one that tells whether another follows,
	// no more than the list holds: an owner's list is short (an app's
	// webhooks), and GraphQL's App.webhooks reads one per app of an
	// answer with room for 500.
	out := make([]projections.Doc, 0, min(p.Limit, 63, list.Len())+1)
	list.AscendGreaterOrEqual(position{sort, id}, func(at position) bool {
		if at.sort == sort && at.id == id {
			return true // the cursor's own document
		}
		out = append(out, k.docs[at.id].Clone())
		return len(out) <= p.Limit
	})
	if len(out) <= p.Limit {
		return out, "", nil
	}
	last := out[p.Limit-1]
	return out[:p.Limit], projections.EncodeCursor(last.Sort, last.ID), nil
}

// Checkpoint implements projections.Reader.
func (s *Store) Checkpoint(context.Context) (projections.Checkpoint, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return maps.Clone(s.cp), nil
}

// Docs returns a copy of every document, ordered by kind and id: for tests
// that compare two stores and for diagnostics.
func (s *Store) Docs() []projections.Doc {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []projections.Doc
	for _, k := range s.kinds {
		for _, d := range k.docs {
			out = append(out, d.Clone())
		}
	}
	slices.SortFunc(out, func(a, b projections.Doc) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Update implements projections.Store.
func (s *Store) Update(ctx context.Context, stream events.Stream, seq uint64, fn func(projections.Tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if have := s.cp[stream]; seq <= have {
		return fmt.Errorf("%w: %s is at %d, asked to move to %d", projections.ErrStaleCheckpoint, stream, have, seq)
	}
	t := projections.NewOverlayTx(committed{s})
	t.Writes, s.spare = s.spare, projections.Overlay{}
	defer func() {
		t.Close()
		s.spare = t.Writes
		s.spare.Reset()
	}()
	if err := fn(t); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.commit(&t.Writes, stream, seq)
	return nil
}

// Close implements projections.Store; the memory store holds nothing to
// release.
func (s *Store) Close() error { return nil }

// commit installs the overlay w and the checkpoint in one critical
// section.
func (s *Store) commit(w *projections.Overlay, stream events.Stream, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ref, d := range w.Docs {
		s.install(ref, d)
		s.changes[changeSlot(ref.Kind)].Add(1)
	}
	for ref, id := range w.Keys {
		s.changes[changeSlot(ref.Kind)].Add(1)
		k := s.kind(ref.Kind)
		if id == "" {
			delete(k.keys, ref.Name)
		} else {
			k.keys[ref.Name] = id
		}
	}
	s.cp[stream] = seq
}

// install makes d the document ref names (d == nil deletes it), keeping
// the tenant lists in step.
func (s *Store) install(ref ref, d *projections.Doc) {
	k := s.kind(ref.Kind)
	old := k.docs[ref.Name]
	if d == nil {
		if old != nil {
			delete(k.docs, ref.Name)
			k.unlist(old)
		}
		return
	}
	k.docs[ref.Name] = d
	if !k.listed || old != nil && old.Tenant == d.Tenant && old.Sort == d.Sort && old.Owner == d.Owner {
		return // same place in the same lists, or none
	}
	if old != nil {
		k.unlist(old)
	}
	k.listIn(listKey{d.Tenant, ""}, d)
	if d.Owner != "" {
		k.listIn(listKey{d.Tenant, d.Owner}, d)
	}
}

// listIn adds d's position to the list at.
func (k *kind) listIn(at listKey, d *projections.Doc) {
	list := k.lists[at]
	if list == nil {
		list = btree.NewG(btreeDegree, byPosition)
		k.lists[at] = list
	}
	list.ReplaceOrInsert(position{d.Sort, d.ID})
}

// unlist takes d's position out of its tenant's list and its owner's.
func (k *kind) unlist(d *projections.Doc) {
	k.unlistFrom(listKey{d.Tenant, ""}, d)
	if d.Owner != "" {
		k.unlistFrom(listKey{d.Tenant, d.Owner}, d)
	}
}

func (k *kind) unlistFrom(at listKey, d *projections.Doc) {
	list := k.lists[at]
	if list == nil {
		return // a kind never listed
	}
	list.Delete(position{d.Sort, d.ID})
	if list.Len() == 0 {
		delete(k.lists, at)
	}
}

// kind returns the documents of name, creating them. Callers hold mu.
func (s *Store) kind(name string) *kind {
	k := s.kinds[name]
	if k == nil {
		k = &kind{docs: map[string]*projections.Doc{}, keys: map[string]string{},
			lists: map[listKey]*btree.BTreeG[position]{}, listed: projections.Listed(name)}
		s.kinds[name] = k
	}
	return k
}

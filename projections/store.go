package projections

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/events"
)

// Errors of the Store port. Callers test them with errors.Is.
var (
	// ErrNotFound: no document of that kind with that id or key.
	ErrNotFound = errors.New("projections: not found")
	// ErrStaleCheckpoint: Update was asked to move a stream's checkpoint
	// to a sequence at or below the one stored. Nothing was written.
	ErrStaleCheckpoint = errors.New("projections: stale checkpoint")
	// ErrKeyConflict: Put gave a document a unique key that another
	// document of the same kind holds.
	ErrKeyConflict = errors.New("projections: unique key held by another document")
	// ErrInvalid: a document without kind or id or with an empty key, a
	// malformed cursor, a page limit below 1, or a List of a kind that is
	// never listed (Listed).
	ErrInvalid = errors.New("projections: invalid")
	// ErrUnavailable: the store cannot be reached now (a lost database
	// connection). An Update that fails with it did not commit; the
	// projector retries it. Tx methods wrap it too, so a reducer that
	// passes their errors on is retried rather than stopped.
	ErrUnavailable = errors.New("projections: store unavailable")
)

// Checkpoint is the last applied sequence of each stream of the log.
type Checkpoint map[events.Stream]uint64

// Doc is one document of a read model. Body is its JSON (the typed views
// beside their reducers), stored and returned byte for byte; Kind and ID
// identify it; Tenant scopes List; Sort orders List within a tenant
// (documents with equal Sort are ordered by ID, both by byte order); Keys
// are unique secondary keys of the kind (e.g. "client_id:abc",
// "name:t/acme"), answered by Lookup. A stored document's Keys come back
// sorted and without duplicates. Owner, when not empty, names who owns
// the document within its tenant (a webhook's app): a List with
// Page.Owner reads only that owner's documents, from an index of its
// own, instead of every document of the tenant.
type Doc struct {
	Kind   string
	ID     string
	Tenant string
	Sort   string
	Owner  string
	Keys   []string
	Body   []byte
}

// unlisted are the kinds of documents that are only ever read by id or
// by key, never listed: no reader calls List (or a function over it) on
// them. The memory store keeps no ordered index of them (a used refresh
// token, put at every rotation, cost an insert into a tree of every used
// token of its tenant), and List refuses them in every store, so that a
// reader that starts listing one fails in the conformance suite instead
// of reading an empty list from the memory store. A kind leaves this set
// before anything lists it.
var unlisted = map[string]bool{
	KindUsedRefresh: true, // GrantByRefresh: by hash
	KindSession:     true, // GetSession: by id
	KindConsent:     true, // GetConsents, ConsentOf: by user id
	KindPAR:         true, // GetPAR: by request_uri's hash
	KindIdempotency: true, // by its key's id
	kindLogClock:    true, // LogClock, tick: by stream
}

// Listed reports whether documents of kind may be listed (Reader.List):
// every kind but those read only by id or key (see unlisted).
func Listed(kind string) bool { return !unlisted[kind] }

// Page is a window of List.
type Page struct {
	// After is the cursor: the (Sort, ID) position of the last document of
	// the previous page, as List returned it (see EncodeCursor); empty for
	// the first page. A cursor stays valid across writes and restarts:
	// the next page starts after that position even if its document is
	// gone.
	After string
	// Limit is the largest number of documents to return (>= 1).
	Limit int
	// Owner, when not empty, lists only the documents whose Doc.Owner it
	// is, in the same (Sort, ID) order: the tenant's list with the other
	// owners' documents left out, so a cursor of either list is a
	// position in the other.
	Owner string
}

// Peeker is implemented by a Reader whose stored documents never change
// once stored (the memory store: a Put installs a new document): it lends
// the stored document itself, nil when there is none. The caller must not
// change it. The read view cache (getCachedView, lookupCachedView) checks
// a cached view against the lent body instead of a copy of it: copying
// every body read was a tenth of what a refresh rotation allocates.
type Peeker interface {
	// PeekDoc returns the stored document kind/id.
	PeekDoc(kind, id string) *Doc
	// PeekKey returns the stored document of kind holding unique key.
	PeekKey(kind, key string) *Doc
}

// Reader is the read side of a Store, what the API uses.
type Reader interface {
	// Get returns the document kind/id or ErrNotFound.
	Get(ctx context.Context, kind, id string) (Doc, error)
	// Lookup returns the document of kind holding unique key, or ErrNotFound.
	Lookup(ctx context.Context, kind, key string) (Doc, error)
	// List returns a tenant's documents of kind (only p.Owner's when it
	// is set) in (Sort, ID) order after p.After, at most p.Limit, and the
	// cursor of the next page: "" when no document follows this page. It returns ErrInvalid for a malformed
	// cursor, a limit below 1 or a kind that is never listed (Listed).
	List(ctx context.Context, kind, tenant string, p Page) (docs []Doc, next string, err error)
	// Checkpoint returns what the store has applied.
	Checkpoint(ctx context.Context) (Checkpoint, error)
}

// Tx is the write side, open for the length of one Update and used by one
// goroutine. Reads through a Tx see its own uncommitted writes; nobody else
// sees them before Update commits. A failed Put changes nothing.
type Tx interface {
	// Get is Reader.Get within the transaction.
	Get(kind, id string) (Doc, error)
	// Lookup is Reader.Lookup within the transaction.
	Lookup(kind, key string) (Doc, error)
	// List is Reader.List within the transaction: it sees the
	// transaction's own Puts and Deletes (the retention sweep reads the
	// documents that expire first this way).
	List(kind, tenant string, p Page) (docs []Doc, next string, err error)
	// Put inserts or replaces kind/id. Keys that the previous version of
	// the document held and this one does not are released. It returns
	// ErrKeyConflict when another document of the kind holds one of d's
	// keys and ErrInvalid for an empty kind, id or key. The store keeps
	// its own copy of d.
	Put(d Doc) error
	// Delete removes kind/id and its keys; deleting nothing is no error.
	Delete(kind, id string) error
}

// Store holds the read models. Only the projector writes it.
type Store interface {
	Reader
	// Update runs fn in one transaction that also moves the checkpoint of
	// stream s to seq: either every write of fn and the new checkpoint are
	// stored, or nothing is (fn's error, or the store's, is returned; a
	// panic in fn is re-raised after the rollback). It returns
	// ErrStaleCheckpoint, without calling fn, when seq is not above the
	// stored one. Updates are serialized: from its checkpoint check to its
	// commit, no other Update commits, so Checkpoint called within fn
	// returns the checkpoint this Update moves from (projectors sharing a
	// store rely on it to apply each event once).
	Update(ctx context.Context, s events.Stream, seq uint64, fn func(Tx) error) error
	// Close releases the store's resources.
	Close() error
}

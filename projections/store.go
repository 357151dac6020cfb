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
)

// Checkpoint is the last applied sequence of each stream of the log.
type Checkpoint map[events.Stream]uint64

// Doc is one document of a read model. Body is its JSON (the typed views in
// views.go); Kind and ID identify it; Tenant scopes List; Sort orders List
// within a tenant (documents with equal Sort are ordered by ID); Keys are
// unique secondary keys of the kind (e.g. "client_id:abc", "name:t/acme"),
// answered by Lookup.
type Doc struct {
	Kind   string
	ID     string
	Tenant string
	Sort   string
	Keys   []string
	Body   []byte
}

// Page is a window of List.
type Page struct {
	// After is the cursor: the Sort+ID position of the last document of the
	// previous page, as returned in NextCursor; empty for the first page.
	After string
	// Limit is the largest number of documents to return (>= 1).
	Limit int
}

// Reader is the read side of a Store, what the API uses.
type Reader interface {
	// Get returns the document kind/id or ErrNotFound.
	Get(ctx context.Context, kind, id string) (Doc, error)
	// Lookup returns the document of kind holding unique key, or ErrNotFound.
	Lookup(ctx context.Context, kind, key string) (Doc, error)
	// List returns a tenant's documents of kind in (Sort, ID) order after
	// p.After, at most p.Limit, and the cursor of the next page ("" when
	// this page is the last).
	List(ctx context.Context, kind, tenant string, p Page) (docs []Doc, next string, err error)
	// Checkpoint returns what the store has applied.
	Checkpoint(ctx context.Context) (Checkpoint, error)
}

// Tx is the write side, open for the length of one Update. Reads through a
// Tx see its own uncommitted writes.
type Tx interface {
	Get(kind, id string) (Doc, error)
	Lookup(kind, key string) (Doc, error)
	// Put inserts or replaces kind/id. Keys that the previous version of
	// the document held and this one does not are released.
	Put(d Doc) error
	// Delete removes kind/id and its keys; deleting nothing is no error.
	Delete(kind, id string) error
}

// Store holds the read models. Only the projector writes it.
type Store interface {
	Reader
	// Update runs fn in one transaction that also moves the checkpoint of
	// stream s to seq: either every write of fn and the new checkpoint are
	// stored, or nothing is (fn's error, or the store's, is returned). It
	// returns ErrStaleCheckpoint when seq is not above the stored one.
	Update(ctx context.Context, s events.Stream, seq uint64, fn func(Tx) error) error
	// Close releases the store's resources.
	Close() error
}

package projections

import "context"

// ChangeCounter is implemented by a Reader that counts its commits per
// kind of document (the memory store): Changes(kind) moves, before a
// reader can see the commit, whenever a commit writes or deletes a
// document or a key of kind. Two equal counts of a kind, read at two
// moments, mean no commit touched that kind in between, so whatever was
// read of it after the first count is still what the store holds. Counts
// may move for other reasons too (kinds may share a counter): a change is
// then seen where there was none, never the reverse.
//
// A store shared by several processes (PostgreSQL) does not implement it:
// another instance's commits would not move this process's counts.
type ChangeCounter interface {
	Changes(kind string) uint64
}

// Stamp is the change count of a kind at a moment.
type Stamp struct {
	Kind string
	N    uint64
}

// Stamps are the counts of the kinds a result was read from, each taken
// before its read.
type Stamps []Stamp

// Current reports whether no commit has touched any of the stamped kinds
// since: a result read under s is still what reading again would give.
func (s Stamps) Current(c ChangeCounter) bool {
	for _, st := range s {
		if c.Changes(st.Kind) != st.N {
			return false
		}
	}
	return true
}

// StampingReader is a Reader that notes, before each read, the change
// count of the kind read: once a computation over it is done, its Stamps
// say when its result stops being current (Stamps.Current). It is used by
// one goroutine.
type StampingReader struct {
	r      Reader
	c      ChangeCounter
	Stamps Stamps
}

// Stamping returns a StampingReader over r, or false when r counts no
// changes (its results cannot be cached exactly).
func Stamping(r Reader) (*StampingReader, bool) {
	c, ok := r.(ChangeCounter)
	if !ok {
		return nil, false
	}
	return &StampingReader{r: r, c: c}, true
}

func (s *StampingReader) stamp(kind string) {
	for _, st := range s.Stamps {
		if st.Kind == kind {
			return // the first count is the older one: keep it
		}
	}
	s.Stamps = append(s.Stamps, Stamp{Kind: kind, N: s.c.Changes(kind)})
}

// Get implements Reader.
func (s *StampingReader) Get(ctx context.Context, kind, id string) (Doc, error) {
	s.stamp(kind)
	return s.r.Get(ctx, kind, id)
}

// Lookup implements Reader.
func (s *StampingReader) Lookup(ctx context.Context, kind, key string) (Doc, error) {
	s.stamp(kind)
	return s.r.Lookup(ctx, kind, key)
}

// List implements Reader.
func (s *StampingReader) List(ctx context.Context, kind, tenant string, p Page) ([]Doc, string, error) {
	s.stamp(kind)
	return s.r.List(ctx, kind, tenant, p)
}

// Checkpoint implements Reader. A result that depends on the checkpoint
// is never current (the checkpoint moves with every commit): its stamp's
// kind is one no document has, and no count of it ever equals the one
// noted.
func (s *StampingReader) Checkpoint(ctx context.Context) (Checkpoint, error) {
	s.Stamps = append(s.Stamps, Stamp{Kind: checkpointStamp, N: ^uint64(0)})
	return s.r.Checkpoint(ctx)
}

// checkpointStamp is the stamp of a read of the checkpoint.
const checkpointStamp = "\x00checkpoint"

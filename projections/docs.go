package projections

import (
	"cmp"
	"fmt"
	"slices"
)

// Normalized returns the copy of d a Store keeps: its own Body and Keys,
// Keys sorted and without duplicates. It returns an error wrapping
// ErrInvalid for an empty Kind, ID or key. It is what every store's Put
// keeps (OverlayTx.Put normalizes a Clone of d), so that every store
// holds the same thing.
func (d Doc) Normalized() (Doc, error) {
	d.Keys, d.Body = slices.Clone(d.Keys), slices.Clone(d.Body)
	return d.normalizedOwned()
}

// normalizedOwned is Normalized of a document whose Body and Keys its
// caller hands over (nobody changes them afterwards): they are kept, not
// copied, and Keys are sorted in place if they are not sorted already.
// A reducer's document is encoded for the Put and dropped: copying every
// body was a tenth of what the projector allocated in the code flow.
func (d Doc) normalizedOwned() (Doc, error) {
	if d.Kind == "" || d.ID == "" {
		return Doc{}, fmt.Errorf("%w: document without kind or id (%q/%q)", ErrInvalid, d.Kind, d.ID)
	}
	if slices.Contains(d.Keys, "") {
		return Doc{}, fmt.Errorf("%w: %s/%s has an empty key", ErrInvalid, d.Kind, d.ID)
	}
	if !slices.IsSorted(d.Keys) {
		slices.Sort(d.Keys)
	}
	d.Keys = slices.Compact(d.Keys)
	if len(d.Keys) == 0 {
		d.Keys = nil
	}
	return d, nil
}

// Clone returns a copy of d that shares no memory with it.
func (d Doc) Clone() Doc {
	d.Keys = slices.Clone(d.Keys)
	d.Body = slices.Clone(d.Body)
	return d
}

// Start returns the position a List of p starts after ("", "" for the
// first page). It returns an error wrapping ErrInvalid for a malformed
// cursor or a limit below 1.
func (p Page) Start() (sort, id string, err error) {
	if p.Limit < 1 {
		return "", "", fmt.Errorf("%w: page limit %d is below 1", ErrInvalid, p.Limit)
	}
	if p.After == "" {
		return "", "", nil
	}
	return DecodeCursor(p.After)
}

// StartOf is Start of a List of kind: it also refuses (ErrInvalid) a
// kind that is never listed (Listed).
func (p Page) StartOf(kind string) (sort, id string, err error) {
	if !Listed(kind) {
		return "", "", fmt.Errorf("%w: %s documents are never listed", ErrInvalid, kind)
	}
	return p.Start()
}

// MergeList is List within a transaction, for Store implementations:
// committed are the committed documents of kind/tenant after p's start,
// (p.Owner's only, when set) in (Sort, ID) order, as many as
// p.Limit+len(written)+1 of them or all there are; written are the
// transaction's own writes of the kind, by id (nil: deleted). The transaction's writes replace the committed
// documents they name, so a List within a Tx sees them.
func MergeList(p Page, tenant string, committed []Doc, written map[string]*Doc) ([]Doc, string, error) {
	sort, id, err := p.Start()
	if err != nil {
		return nil, "", err
	}
	out := make([]Doc, 0, len(committed)+len(written))
	for _, d := range committed {
		if _, ok := written[d.ID]; !ok {
			out = append(out, d)
		}
	}
	for _, d := range written {
		if d != nil && d.Tenant == tenant && (p.Owner == "" || d.Owner == p.Owner) && (d.Sort > sort || d.Sort == sort && d.ID > id) {
			out = append(out, d.Clone())
		}
	}
	slices.SortFunc(out, func(a, b Doc) int { return cmp.Or(cmp.Compare(a.Sort, b.Sort), cmp.Compare(a.ID, b.ID)) })
	if len(out) <= p.Limit {
		return out, "", nil
	}
	last := out[p.Limit-1]
	return out[:p.Limit], EncodeCursor(last.Sort, last.ID), nil
}

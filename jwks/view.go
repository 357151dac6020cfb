package jwks

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// Projection is what ProjectedKeys needs of the projector that keeps the
// key documents: *projections.Projector.
type Projection interface {
	// WaitFor returns once the store has applied seq of stream s.
	WaitFor(ctx context.Context, s events.Stream, seq uint64) error
	// CatchUp returns once the store has applied what the log held when
	// it was called.
	CatchUp(ctx context.Context) error
}

// ProjectedKeys reads the keys from a projection store r kept by p. It is
// both the Rotator's KeyView (KeysAt waits for p to apply seq) and the
// Keyring's KeySource (ListKeys catches up with the log first, so a
// keyring refreshed right after an append sees it).
func ProjectedKeys(p Projection, r projections.Reader) *Projected {
	return &Projected{p: p, r: r}
}

// Projected is the KeyView and KeySource of ProjectedKeys.
type Projected struct {
	p Projection
	r projections.Reader
}

var (
	_ KeyView   = (*Projected)(nil)
	_ KeySource = (*Projected)(nil)
)

// KeysAt implements KeyView.
func (v *Projected) KeysAt(ctx context.Context, seq uint64) ([]projections.Key, error) {
	if err := v.p.WaitFor(ctx, events.Control, seq); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	return projections.ListKeys(ctx, v.r)
}

// ListKeys implements KeySource.
func (v *Projected) ListKeys(ctx context.Context) ([]projections.Key, error) {
	if err := v.p.CatchUp(ctx); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	return projections.ListKeys(ctx, v.r)
}

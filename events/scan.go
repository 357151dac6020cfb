package events

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/nats-io/nats.go/jetstream"
)

var _ Scanner = (*JetStream)(nil)

// Scan implements Scanner with direct gets by subject: a tenant's messages
// are the subjects "<stream prefix>.<tenant>.>", found one after the other
// by next-by-subject without reading other tenants' messages; on the
// high-volume stream the packed messages, which mix tenants, are walked
// beside them and filtered event by event.
func (l *JetStream) Scan(ctx context.Context, s Stream, tenant string, after uint64, limit, maxScan int) ([]Event, uint64, error) {
	str, ok := l.streams[s]
	if !ok {
		return nil, after, fmt.Errorf("%w: no stream %q", ErrInvalid, s)
	}
	if err := validToken(tenant); err != nil || limit < 1 || maxScan < 1 {
		return nil, after, fmt.Errorf("%w: scan of tenant %q, limit %d, maxScan %d", ErrInvalid, tenant, limit, maxScan)
	}
	if after == math.MaxUint64 {
		return nil, after, nil // nothing can follow it (after+1 would wrap to the start)
	}
	ctx, cancel := l.ctx(ctx)
	defer cancel()
	subjects := []string{l.subject[s] + tenant + ".>"}
	if s == HighVolume {
		subjects = append(subjects, l.PackedSubject(), l.PackedSubject()+".>")
	}
	// heads[i] is the next message of subjects[i] (nil: none left).
	heads := make([]*jetstream.RawStreamMsg, len(subjects))
	next := func(i int, from uint64) error {
		m, err := str.GetMsg(ctx, from, jetstream.WithGetMsgSubject(subjects[i]))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			heads[i] = nil
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		heads[i] = m
		return nil
	}
	for i := range subjects {
		if err := next(i, after+1); err != nil {
			return nil, after, err
		}
	}
	var out []Event
	pos := after
	for scanned := 0; scanned < maxScan && len(out) < limit; scanned++ {
		i := -1
		for j, h := range heads {
			if h != nil && (i < 0 || h.Sequence < heads[i].Sequence) {
				i = j
			}
		}
		if i < 0 {
			break // nothing more of this tenant, for now
		}
		m := heads[i]
		if count := m.Header.Get(hdrPacked); count != "" {
			evs, err := decodePacked(s, m.Sequence, count, m.Data)
			if err != nil {
				return nil, after, err
			}
			for _, e := range evs {
				if e.Aggregate.Tenant == tenant {
					e.More = false
					out = append(out, e)
				}
			}
		} else {
			e, err := decodeMsg(s, m.Sequence, m.Data)
			if err != nil {
				return nil, after, err
			}
			out = append(out, e)
		}
		pos = m.Sequence
		if err := next(i, m.Sequence+1); err != nil {
			return nil, after, err
		}
	}
	return out, pos, nil
}

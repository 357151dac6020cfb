package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// A credential's refresh state (events.AggCredentialRefresh, the
// high-volume stream) is a document of its own, merged with the
// credential's control document when read (GetCredential and the
// others). Every event of the aggregate carries the whole state, so the
// document is its last event's state; it is forgotten when the log
// would forget that event (events.CredentialRefreshState.RetainSeconds
// after it, through ExpireAt), which the refresher's snapshots prevent
// for a live credential. Only high-volume events write these kinds, and
// only control events the control document, so a rebuild gives the same
// documents whatever the interleaving of the streams.

// KindCredentialRefresh is the kind of refresh states, by credential id.
const KindCredentialRefresh = "credential_refresh"

// kindCredentialVersion holds the token sets the refresh events stored
// (the rollback targets and the versions list), by "<credential
// id>/<version>", in the partition versionPartition(credential id):
// the newest CredentialVersionsKept of them, each forgotten with the
// event that last carried it.
const kindCredentialVersion = "credential_version"

// kindCredentialRefreshDue is the refresh schedule of the refresh states
// (kindCredentialDue holds the credentials whose state is still on the
// control stream): due at the end of a live claim, else at the next
// refresh or the state's snapshot, whichever comes first.
const kindCredentialRefreshDue = "credential_refresh_due"

func versionPartition(credential string) string { return "_ver/" + credential }

func versionID(credential string, v int) string { return credential + "/" + strconv.Itoa(v) }

// CredentialRefresh is a credential's refresh state as its last refresh
// event left it.
type CredentialRefresh struct {
	Tenant string                        `json:"tenant"`
	State  events.CredentialRefreshState `json:"state"`
	// At is the time of the last event; LastSeq its sequence (the Expect
	// of the next append to the aggregate).
	At      time.Time `json:"at"`
	LastSeq uint64    `json:"last_seq"`
	// Ended: the credential was deleted; nothing is scheduled.
	Ended bool `json:"ended,omitempty"`
}

// SnapshotAt is when the state is re-appended (the refresher's
// credential_refresh.snapshot): half way through its retention, so a
// snapshot failing for a while still lands in time. Zero: never.
func (r CredentialRefresh) SnapshotAt() time.Time {
	if r.State.RetainSeconds <= 0 || r.Ended {
		return time.Time{}
	}
	return r.At.Add(time.Duration(r.State.RetainSeconds) * time.Second / 2)
}

var _ = on(func(tx Tx, e events.Event, p *events.CredentialRefreshClaim) error {
	return putRefresh(tx, e, p.State, 0, false)
})
var _ = on(func(tx Tx, e events.Event, p *events.CredentialRefreshStored) error {
	return putRefresh(tx, e, p.State, p.Version, false)
})
var _ = on(func(tx Tx, e events.Event, p *events.CredentialRefreshAttemptFailed) error {
	return putRefresh(tx, e, p.State, 0, false)
})
var _ = on(func(tx Tx, e events.Event, p *events.CredentialRefreshRolledBack) error {
	return putRefresh(tx, e, p.State, 0, false)
})
var _ = on(func(tx Tx, e events.Event, p *events.CredentialRefreshSnapshot) error {
	return putRefresh(tx, e, p.State, 0, p.Ended)
})

// putRefresh stores s as credential e.Aggregate.ID's refresh state (the
// token sets it carries in it), the ones the previous state carried and
// s does not as versions of their own (stored: the version a
// credential_refresh.stored adds, which pushes the oldest beyond
// CredentialVersionsKept out), and its place in the schedule.
func putRefresh(tx Tx, e events.Event, s events.CredentialRefreshState, stored int, ended bool) error {
	id := e.Aggregate.ID
	var prev CredentialRefresh
	if d, err := tx.Get(KindCredentialRefresh, id); err == nil && d.Tenant != e.Tenant() {
		return fmt.Errorf("projections: %s of tenant %s for the refresh state of credential %s of tenant %s", e.Type, e.Tenant(), id, d.Tenant)
	} else if err != nil && !isNotFound(err) {
		return err
	} else if err == nil {
		if prev, err = decodeCached(tx, d, CredentialRefresh.clone); err != nil {
			return err
		}
	}
	s.Versions = orEmpty(s.Versions)
	r := CredentialRefresh{Tenant: e.Tenant(), State: s, At: e.Time, LastSeq: e.Seq, Ended: ended}
	var until time.Time
	if s.RetainSeconds > 0 {
		until = e.Time.Add(time.Duration(s.RetainSeconds) * time.Second)
	}
	keep := func(kind, id string, until time.Time) error {
		if until.IsZero() {
			return KeepForever(tx, kind, id)
		}
		return ExpireAt(tx, events.HighVolume, kind, id, until)
	}
	// The token sets the state carries live in it; one it stops carrying
	// becomes a document of its own (a rollback target, listed), kept as
	// long as the event that last carried it, or its expiry.
	carried := map[int]bool{}
	for _, v := range s.Versions {
		carried[v.Version] = true
		if err := dropVersion(tx, id, v.Version); err != nil {
			return err
		}
	}
	var prevUntil time.Time
	if prev.State.RetainSeconds > 0 {
		prevUntil = prev.At.Add(time.Duration(prev.State.RetainSeconds) * time.Second)
	}
	for _, v := range prev.State.Versions {
		if carried[v.Version] || ended {
			continue
		}
		vid := versionID(id, v.Version)
		if err := putJSON(tx, Doc{Kind: kindCredentialVersion, ID: vid, Tenant: versionPartition(id), Sort: fmt.Sprintf("%010d", v.Version)}, v); err != nil {
			return err
		}
		if err := keep(kindCredentialVersion, vid, versionUntil(v, prevUntil)); err != nil {
			return err
		}
	}
	if old := stored - CredentialVersionsKept; stored > 0 && old > 0 {
		if err := dropVersion(tx, id, old); err != nil {
			return err
		}
	}
	if ended {
		// A deleted credential's versions go with it.
		docs, _, err := tx.List(kindCredentialVersion, versionPartition(id), Page{Limit: 4 * CredentialVersionsKept})
		if err != nil {
			return err
		}
		for _, d := range docs {
			if err := KeepForever(tx, kindCredentialVersion, d.ID); err != nil {
				return err
			}
			if err := tx.Delete(kindCredentialVersion, d.ID); err != nil {
				return err
			}
		}
	}
	var due time.Time
	switch {
	case ended:
	case s.ClaimedBy != "" && s.ClaimedUntil != nil:
		due = *s.ClaimedUntil
	default:
		for _, at := range []time.Time{deref(s.NextRefreshAt), deref(s.ExpiringAlertAt), r.SnapshotAt()} {
			if !at.IsZero() && (due.IsZero() || at.Before(due)) {
				due = at
			}
		}
	}
	if due.IsZero() {
		if err := tx.Delete(kindCredentialRefreshDue, id); err != nil && !isNotFound(err) {
			return err
		}
	} else {
		if err := putJSON(tx, Doc{Kind: kindCredentialRefreshDue, ID: id, Tenant: dueTenant, Sort: SortTime(due)},
			DueCredential{ID: id, Tenant: e.Tenant(), Due: due}); err != nil {
			return err
		}
		if err := keep(kindCredentialRefreshDue, id, until); err != nil {
			return err
		}
	}
	if err := putCached(tx, Doc{Kind: KindCredentialRefresh, ID: id, Tenant: e.Tenant(), Sort: SortTime(e.Time)}, r); err != nil {
		return err
	}
	return keep(KindCredentialRefresh, id, until)
}

// versionUntil is when the document of token set v goes: when the log
// forgets the event that last carried it (until; zero: never), or when
// v expires, if sooner. An expired set is no rollback target (the vault
// rolls back only to a valid one) and is never refreshed from (its
// refresh token, when it has one, is carried in the state), so it has
// no reason to stay; the time is the log's, so a rebuild drops it at
// the same event (invariant 8).
func versionUntil(v events.CredentialTokenSet, until time.Time) time.Time {
	if v.ExpiresAt == nil || (!until.IsZero() && until.Before(*v.ExpiresAt)) {
		return until
	}
	return *v.ExpiresAt
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func dropVersion(tx Tx, credential string, v int) error {
	vid := versionID(credential, v)
	if err := KeepForever(tx, kindCredentialVersion, vid); err != nil {
		return err
	}
	if err := tx.Delete(kindCredentialVersion, vid); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

func (r CredentialRefresh) clone() CredentialRefresh {
	r.State.Versions = slices.Clone(r.State.Versions)
	return r
}

// GetCredentialRefresh returns credential id's refresh state (ErrNotFound:
// it has none: its state is on the control stream, or forgotten).
func GetCredentialRefresh(ctx context.Context, r Reader, tenant, id string) (CredentialRefresh, error) {
	rs, d, err := getCachedView(ctx, r, KindCredentialRefresh, id, CredentialRefresh.clone)
	if err == nil && d.Tenant != tenant {
		return CredentialRefresh{}, NotFound("credential refresh", id)
	}
	return rs, err
}

// merge overlays c's refresh state, when it has one, on c: the state is
// the high-volume stream's from its first event on.
func merge(ctx context.Context, r Reader, c Credential) (Credential, error) {
	rs, err := GetCredentialRefresh(ctx, r, c.Tenant, c.ID)
	if errors.Is(err, ErrNotFound) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	c.Overlay(rs)
	return c, nil
}

// Overlay puts refresh state rs on c.
func (c *Credential) Overlay(rs CredentialRefresh) {
	s := rs.State
	if s.Status != "" {
		c.Status = s.Status
	}
	c.Versions = make([]CredentialVersion, len(s.Versions))
	for i, v := range s.Versions {
		c.Versions[i] = versionOf(v)
	}
	c.Current, c.LastVersion = s.Current, max(c.LastVersion, s.LastVersion)
	c.LastRefreshedAt, c.NextRefreshAt = s.LastRefreshedAt, s.NextRefreshAt
	c.RefreshAttempts, c.ConsecutiveFailures, c.LastError = s.RefreshAttempts, s.ConsecutiveFailures, s.LastError
	c.ClaimedBy, c.ClaimedUntil = s.ClaimedBy, time.Time{}
	if s.ClaimedUntil != nil {
		c.ClaimedUntil = *s.ClaimedUntil
	}
	c.ExpiringAlerted = max(c.ExpiringAlerted, s.ExpiringAlerted) // the control document records alerts too
	c.ExpiringAlertAt = s.ExpiringAlertAt
	c.Version += s.Revision
	c.RefreshSeq, c.RefreshRevision, c.RefreshAt = rs.LastSeq, s.Revision, rs.At
	c.RetainSeconds = s.RetainSeconds
	if c.SupersededThrough > 0 && s.Current <= c.SupersededThrough {
		// A change that needed reauthorization (credential.updated
		// Reauthorize, on the control stream) came after the refresh
		// state's last token set: none of its versions is served until a
		// new authorization stores one above SupersededThrough.
		c.Status, c.Current, c.NextRefreshAt = events.CredentialStatusPending, 0, nil
		c.ConsecutiveFailures, c.LastError = 0, ""
	}
}

func versionOf(v events.CredentialTokenSet) CredentialVersion {
	v.Scopes = orEmpty(v.Scopes)
	return v
}

// CredentialVersions returns every kept token set of c, oldest first: those
// of its control document (stored before its refresh state moved to the
// high-volume stream) and those the refresh events stored, the newest
// CredentialVersionsKept.
func CredentialVersions(ctx context.Context, r Reader, c Credential) ([]CredentialVersion, error) {
	byVersion := map[int]CredentialVersion{}
	if c.RefreshSeq != 0 {
		// The control document's own versions, under the overlay.
		d, err := r.Get(ctx, KindCredential, c.ID)
		if err != nil && !isNotFound(err) {
			return nil, err
		}
		if err == nil {
			ctl, err := decodeRead(d, Credential.clone)
			if err != nil {
				return nil, err
			}
			for _, v := range ctl.Versions {
				byVersion[v.Version] = v
			}
		}
		after := ""
		for {
			docs, next, err := r.List(ctx, kindCredentialVersion, versionPartition(c.ID), Page{After: after, Limit: 100})
			if err != nil {
				return nil, err
			}
			for _, d := range docs {
				v, err := decode[events.CredentialTokenSet](d)
				if err != nil {
					return nil, err
				}
				byVersion[v.Version] = versionOf(v)
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	for _, v := range c.Versions {
		byVersion[v.Version] = v
	}
	out := make([]CredentialVersion, 0, len(byVersion))
	for _, v := range byVersion {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b CredentialVersion) int { return a.Version - b.Version })
	if n := len(out); n > CredentialVersionsKept {
		out = out[n-CredentialVersionsKept:]
	}
	return out, nil
}

package projections

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// KindCredentialUsage is the use summary of a credential (the proxy's and
// token exchange's credential.used counters, package proxy), by
// credential id: when it was last used, and its use per app and minute
// over the last UsageWindow. Reduced from the high-volume stream, where
// the counters are kept by age: the summary holds what is left of them
// (a rebuild sees only the retained events), and the document expires
// one UsageWindow after its last minute of use.
const KindCredentialUsage = "credential_usage"

// UsageWindow is how far back a credential's use summary counts.
const UsageWindow = time.Hour

// CredentialUsage is a credential's use summary.
type CredentialUsage struct {
	CredentialID string `json:"credential_id"`
	Tenant       string `json:"tenant"`
	// LastUsedAt is the start of the last minute in which the credential
	// was used (a proxied request answered, or a token exchange); nil:
	// not used within what the log keeps.
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	// Minutes are the counts per minute and app (all instances summed),
	// within UsageWindow of the newest minute, oldest first.
	Minutes []UsageMinute `json:"minutes"`
}

// UsageMinute is one app's use of a credential in one minute.
type UsageMinute struct {
	Minute    time.Time `json:"minute"`
	AppID     string    `json:"app_id"`
	Requests  int64     `json:"requests"`
	Failed    int64     `json:"failed"`
	Exchanges int64     `json:"exchanges"`
}

// AppUsage is one app's use of a credential over a window.
type AppUsage struct {
	AppID     string `json:"app_id"`
	Requests  int64  `json:"requests"`
	Failed    int64  `json:"failed"`
	Exchanges int64  `json:"exchanges"`
}

// Since sums the minutes that start at or after from, per app (sorted by
// app id).
func (u CredentialUsage) Since(from time.Time) []AppUsage {
	by := map[string]*AppUsage{}
	for _, m := range u.Minutes {
		if m.Minute.Before(from) {
			continue
		}
		a := by[m.AppID]
		if a == nil {
			a = &AppUsage{AppID: m.AppID}
			by[m.AppID] = a
		}
		a.Requests += m.Requests
		a.Failed += m.Failed
		a.Exchanges += m.Exchanges
	}
	out := make([]AppUsage, 0, len(by))
	for _, a := range by {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b AppUsage) int { return cmp.Compare(a.AppID, b.AppID) })
	return out
}

var _ = on(func(tx Tx, e events.Event, p *events.CredentialUsed) error {
	if p.CredentialID == "" || p.AppID == "" {
		return nil
	}
	u := CredentialUsage{CredentialID: p.CredentialID, Tenant: e.Tenant(), Minutes: []UsageMinute{}}
	d, err := tx.Get(KindCredentialUsage, p.CredentialID)
	switch {
	case err == nil:
		if u, err = decode[CredentialUsage](d); err != nil {
			return err
		}
	case !isNotFound(err):
		return err
	}
	minute := p.Minute.UTC().Truncate(time.Minute)
	if (p.Requests > 0 || p.Exchanges > 0) && (u.LastUsedAt == nil || minute.After(*u.LastUsedAt)) {
		u.LastUsedAt = &minute
	}
	i := slices.IndexFunc(u.Minutes, func(m UsageMinute) bool { return m.Minute.Equal(minute) && m.AppID == p.AppID })
	if i < 0 {
		u.Minutes = append(u.Minutes, UsageMinute{Minute: minute, AppID: p.AppID})
		i = len(u.Minutes) - 1
	}
	u.Minutes[i].Requests += p.Requests
	u.Minutes[i].Failed += p.Failed
	u.Minutes[i].Exchanges += p.Exchanges
	// Keep the window before the newest minute (deterministic: by the
	// events' minutes, not the clock), oldest first.
	newest := minute
	for _, m := range u.Minutes {
		if m.Minute.After(newest) {
			newest = m.Minute
		}
	}
	u.Minutes = slices.DeleteFunc(u.Minutes, func(m UsageMinute) bool { return !m.Minute.After(newest.Add(-UsageWindow)) })
	slices.SortStableFunc(u.Minutes, func(a, b UsageMinute) int {
		return cmp.Or(a.Minute.Compare(b.Minute), cmp.Compare(a.AppID, b.AppID))
	})
	if err := putJSON(tx, Doc{Kind: KindCredentialUsage, ID: p.CredentialID, Tenant: e.Tenant()}, u); err != nil {
		return err
	}
	return ExpireAt(tx, events.HighVolume, KindCredentialUsage, p.CredentialID, newest.Add(UsageWindow+time.Minute))
})

// dropCredentialUsage forgets a deleted credential's use summary (a
// counter of it applied later makes a summary nobody reads, which
// expires).
func dropCredentialUsage(tx Tx, id string) error {
	if err := tx.Delete(KindCredentialUsage, id); err != nil && !isNotFound(err) {
		return err
	}
	return KeepForever(tx, KindCredentialUsage, id)
}

// GetCredentialUsage returns credential id's use summary in tenant (an
// empty one when it has none).
func GetCredentialUsage(ctx context.Context, r Reader, tenant, id string) (CredentialUsage, error) {
	u, d, err := getView[CredentialUsage](ctx, r, KindCredentialUsage, id)
	if errors.Is(err, ErrNotFound) || (err == nil && d.Tenant != tenant) {
		return CredentialUsage{CredentialID: id, Tenant: tenant, Minutes: []UsageMinute{}}, nil
	}
	return u, err
}

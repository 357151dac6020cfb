package projections_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/cputime"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// codeFlowApplier applies the identity provider's events to a memory
// store as the projector does under load: each event its own Update,
// through one view cache kept across them.
type codeFlowApplier struct {
	b     testing.TB
	store *memory.Store
	apply func(projections.Tx, events.Event) error
	at    time.Time
	seq   uint64
}

func newCodeFlowApplier(b testing.TB) *codeFlowApplier {
	return &codeFlowApplier{b: b, store: memory.New(), apply: projections.NewCachingApply(), at: time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)}
}

// put applies p, an event of ref at the applier's time, in an Update of
// its own.
func (a *codeFlowApplier) put(ref events.Ref, p events.Payload) {
	e, err := events.New(ref, events.Actor{Kind: events.ActorSystem, ID: "idp"}, a.at, p)
	if err != nil {
		a.b.Fatal(err)
	}
	a.seq++
	e.Stream, e.Seq = events.HighVolume, a.seq
	if err := a.store.Update(a.b.Context(), events.HighVolume, a.seq, func(tx projections.Tx) error { return a.apply(tx, e) }); err != nil {
		a.b.Fatal(err)
	}
}

// family is a grant of the benchmarks and its refresh-token family.
type family struct {
	ref  events.Ref
	i    int       // its number
	live string    // the live refresh token's hash
	rexp time.Time // the family's expiry, set by its code
}

// family issues and redeems code i (grant "req-<i>…").
func (a *codeFlowApplier) family(i int) *family {
	scopes := []string{"openid", "offline_access", "bench.read"}
	f := &family{ref: events.Ref{Tenant: "tenant-1", Type: events.AggAuthzSession, ID: fmt.Sprintf("req-%016d-0123456789abcdef", i)}, i: i,
		live: fmt.Sprintf("refresh-%d-0-abcdefghijklmnopqrstuvwxyz0123456789", i), rexp: a.at.Add(30 * 24 * time.Hour)}
	a.put(f.ref, &events.AuthCodeIssued{CodeHash: fmt.Sprintf("code-%d-abcdefghijklmnopqrstuvwxyz0123456789", i), AppID: "app-1", ClientID: "client-1",
		UserID: "user-1", RequestedScopes: scopes, GrantedScopes: scopes, RedirectURI: "http://127.0.0.1/callback",
		CodeChallenge: "challenge-abcdefghijklmnopqrstuvwxyz0123456789", ChallengeMethod: "S256", AuthTime: a.at, RequestedAt: a.at, ExpiresAt: a.at.Add(time.Minute)})
	a.put(f.ref, &events.AuthCodeRedeemed{JTI: fmt.Sprintf("jti-%d-0", i), AccessExpiresAt: a.at.Add(time.Hour), RefreshHash: f.live, RefreshExpiresAt: &f.rexp})
	return f
}

// rotate applies rotation r of f, which keeps the family's expiry (as
// idp does: rotation does not extend a family's life).
func (a *codeFlowApplier) rotate(f *family, r int) {
	next := fmt.Sprintf("refresh-%d-%d-abcdefghijklmnopqrstuvwxyz0123456789", f.i, r)
	a.put(f.ref, &events.RefreshRotated{OldHash: f.live, NewHash: next, JTI: fmt.Sprintf("jti-%d-%d", f.i, r), AccessExpiresAt: a.at.Add(time.Hour), RefreshExpiresAt: &f.rexp})
	f.live = next
}

// BenchmarkApplyCodeFlow times what the projector does for one step of
// the code bench (issue 14): a code's authz_code.issued, then its
// authz_code.redeemed with a refresh token, each its own Update of a
// memory store, as the projector applies them under load; then three
// rotations of the family (the refresh bench), each its own Update.
func BenchmarkApplyCodeFlow(b *testing.B) {
	a := newCodeFlowApplier(b)
	i := 0
	cpu0 := cpuTime()
	for b.Loop() {
		i++
		a.at = a.at.Add(400 * time.Microsecond)
		f := a.family(i)
		for r := 1; r <= 3; r++ {
			a.rotate(f, r)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkApplyRefreshRotation times what the projector does for one
// step of the refresh bench (issue 14): a refresh_token.rotated of one of
// 32 families (one per worker of make bench's c=32), taken in turn, each
// its own Update, 300 µs of log time apart (about 3,300 rotations/s).
func BenchmarkApplyRefreshRotation(b *testing.B) {
	a := newCodeFlowApplier(b)
	var families [32]*family
	for i := range families {
		families[i] = a.family(i)
	}
	r := 0
	cpu0 := cpuTime()
	for b.Loop() {
		r++
		a.at = a.at.Add(300 * time.Microsecond)
		a.rotate(families[r%len(families)], r)
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time: the machines these
// benchmarks run on are shared, and CPU time says more than wall time.
func cpuTime() time.Duration {
	d, _ := cputime.Process()
	return d
}

// TestGrantDocumentAcrossRotations: the grant's document after a
// redemption and rotations has its position (user/app) and exactly its
// code's and live refresh token's keys, whatever strings it kept from
// the version before; the used tokens are found through their own
// documents.
func TestGrantDocumentAcrossRotations(t *testing.T) {
	a := newCodeFlowApplier(t)
	f := a.family(7)
	used := []string{f.live}
	for r := 1; r <= 3; r++ {
		a.at = a.at.Add(time.Second)
		a.rotate(f, r)
		used = append(used, f.live)
	}
	d, err := a.store.Get(t.Context(), projections.KindGrant, f.ref.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"code:code-7-abcdefghijklmnopqrstuvwxyz0123456789", "refresh:" + f.live}
	if d.Sort != "user-1/app-1" || fmt.Sprint(d.Keys) != fmt.Sprint(want) {
		t.Fatalf("grant: sort %q, keys %v; want user-1/app-1, %v", d.Sort, d.Keys, want)
	}
	for _, h := range used {
		g, err := projections.GrantByRefresh(t.Context(), a.store, h)
		if err != nil || g.ID != f.ref.ID || g.Refresh != f.live {
			t.Fatalf("GrantByRefresh(%s) = %s (live %s), %v", h, g.ID, g.Refresh, err)
		}
	}
}

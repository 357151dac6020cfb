package projections_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// BenchmarkApplyCodeFlow times what the projector does for one step of
// the code bench (issue 14): a code's authz_code.issued, then its
// authz_code.redeemed with a refresh token, each its own Update of a
// memory store, as the projector applies them under load; then three
// rotations of the family (the refresh bench), each its own Update.
func BenchmarkApplyCodeFlow(b *testing.B) {
	store := memory.New()
	apply := projections.NewCachingApply()
	at := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	var seq uint64
	put := func(ref events.Ref, p events.Payload) {
		e, err := events.New(ref, events.Actor{Kind: events.ActorSystem, ID: "idp"}, at, p)
		if err != nil {
			b.Fatal(err)
		}
		seq++
		e.Stream, e.Seq = events.HighVolume, seq
		if err := store.Update(b.Context(), events.HighVolume, seq, func(tx projections.Tx) error { return apply(tx, e) }); err != nil {
			b.Fatal(err)
		}
	}
	scopes := []string{"openid", "offline_access", "bench.read"}
	i := 0
	cpu0 := cpuTime()
	for b.Loop() {
		i++
		at = at.Add(400 * time.Microsecond)
		ref := events.Ref{Tenant: "tenant-1", Type: events.AggAuthzSession, ID: fmt.Sprintf("req-%016d-0123456789abcdef", i)}
		put(ref, &events.AuthCodeIssued{CodeHash: fmt.Sprintf("code-%d-abcdefghijklmnopqrstuvwxyz0123456789", i), AppID: "app-1", ClientID: "client-1",
			UserID: "user-1", RequestedScopes: scopes, GrantedScopes: scopes, RedirectURI: "http://127.0.0.1/callback",
			CodeChallenge: "challenge-abcdefghijklmnopqrstuvwxyz0123456789", ChallengeMethod: "S256", AuthTime: at, RequestedAt: at, ExpiresAt: at.Add(time.Minute)})
		rexp := at.Add(30 * 24 * time.Hour)
		prev := fmt.Sprintf("refresh-%d-0-abcdefghijklmnopqrstuvwxyz0123456789", i)
		put(ref, &events.AuthCodeRedeemed{JTI: fmt.Sprintf("jti-%d-0", i), AccessExpiresAt: at.Add(time.Hour), RefreshHash: prev, RefreshExpiresAt: &rexp})
		for r := 1; r <= 3; r++ {
			next := fmt.Sprintf("refresh-%d-%d-abcdefghijklmnopqrstuvwxyz0123456789", i, r)
			put(ref, &events.RefreshRotated{OldHash: prev, NewHash: next, JTI: fmt.Sprintf("jti-%d-%d", i, r), AccessExpiresAt: at.Add(time.Hour), RefreshExpiresAt: &rexp})
			prev = next
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time: the machines these
// benchmarks run on are shared, and CPU time says more than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package vault

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/cputime"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/sealing"
)

// The vault's scale figures (issue 15), measured in-process on the
// memory projections the embedded server uses (the log is not needed to
// hold the state, only to rebuild it):
//
//   - BenchmarkVaultIdle100k: 100,000 active credentials (a
//     client_credentials credential each, with one token set of a 256-byte
//     access token and a 64-byte refresh token, sealed as the vault seals
//     them (tokenset.go), refreshed in 30–60 min) applied through the reducers into a
//     memory store: the live heap's growth per credential (after two
//     collections), and the CPU the refresher worker burns over 10 s while
//     nothing is due (getrusage of the process, which does nothing else).
//   - BenchmarkVaultSpread10k: the refresh schedule of 10,000 credentials
//     whose token sets (1 h, the default refresh_before_seconds 300)
//     expire within the same minute: refreshAt's times, as a histogram of
//     10 s buckets and the busiest second; what the refresher must then
//     sustain.
//
// go test -run '^$' -bench 'VaultIdle100k|VaultSpread10k' -benchtime 1x ./vault/

const scaleCredentials = 100_000

func BenchmarkVaultIdle100k(b *testing.B) {
	for b.Loop() {
		store, tokens := memory.New(), newTokenSealer(b)
		before := liveHeap()
		start := time.Now()
		fillCredentials(b, store, tokens, scaleCredentials, start)
		after := liveHeap()
		perCred := float64(after-before) / scaleCredentials
		b.ReportMetric(perCred, "heap-B/credential")

		v := &Vault{Store: store, Now: time.Now, Logger: slog.New(slog.DiscardHandler)}
		r := &Refresher{V: v}
		cpu0 := cpuTime()
		if err := r.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
		const idle = 10 * time.Second
		time.Sleep(idle) // the measured window: nothing is due in it
		_ = r.Close()
		cpu := cpuTime() - cpu0
		b.ReportMetric(float64(cpu.Microseconds())/1000/idle.Seconds(), "cpu-ms/s-idle")
		b.Logf("%d credentials: live heap %d → %d bytes (%.0f B/credential); refresher idle for %s: %s CPU", scaleCredentials, before, after, perCred, idle, cpu)
		runtime.KeepAlive(store)
	}
}

func BenchmarkVaultSpread10k(b *testing.B) {
	for b.Loop() {
		const n = 10_000
		minute := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		issued := minute.Add(-time.Hour)
		times := make([]time.Duration, n)
		for i := range n {
			exp := minute.Add(time.Duration(i) * time.Minute / n) // spread over the one minute
			times[i] = refreshAt(issued, exp, DefaultRefreshBefore).Sub(minute)
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		buckets := map[time.Duration]int{}
		perSecond := map[time.Duration]int{}
		for _, d := range times {
			buckets[d.Truncate(10*time.Second)]++
			perSecond[d.Truncate(time.Second)]++
		}
		peak := 0
		for _, c := range perSecond {
			peak = max(peak, c)
		}
		keys := make([]time.Duration, 0, len(buckets))
		for k := range buckets {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		var hist strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&hist, "\n  %6s..%-6s %5d %s", k, k+10*time.Second, buckets[k], strings.Repeat("#", buckets[k]/40))
		}
		span := times[n-1] - times[0]
		b.ReportMetric(span.Seconds(), "spread-s")
		b.ReportMetric(float64(peak), "peak-refreshes/s")
		b.Logf("%d token sets expiring in the minute from %s: refreshes scheduled from %s to %s before it starts (%s), busiest second %d, mean %.0f/s; per 10 s:%s",
			n, minute.Format(time.TimeOnly), -times[0], -times[n-1], span, peak, float64(n)/span.Seconds(), hist.String())
	}
}

// fillCredentials applies n credentials, each created with its first
// token set, to store as the projector would (batches of 500 events).
func fillCredentials(b testing.TB, store *memory.Store, tokens *sealing.Sealer, n int, now time.Time) {
	b.Helper()
	ctx := context.Background()
	seq := uint64(0)
	var batch []events.Event
	flush := func() {
		if len(batch) == 0 {
			return
		}
		last := batch[len(batch)-1].Seq
		if err := store.Update(ctx, events.Control, last, func(tx projections.Tx) error {
			for _, e := range batch {
				if err := projections.Apply(tx, e); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	access, refresh := base64.RawURLEncoding.EncodeToString(randomBytes(b, 192)), base64.RawURLEncoding.EncodeToString(randomBytes(b, 48))
	for i := range n {
		id := fmt.Sprintf("cred_%08d", i)
		tenant := fmt.Sprintf("t%03d", i%100)
		plain := encodeTokenSet(tokenSet{AccessToken: access, RefreshToken: refresh})
		sealed, err := tokens.Seal(tokensAAD(id, 1), plain)
		if err != nil {
			b.Fatal(err)
		}
		exp := now.Add(time.Hour).UTC().Truncate(time.Second)
		at := now.Add(30*time.Minute + time.Duration(i%1800)*time.Second).UTC().Truncate(time.Millisecond) // as refreshAt writes it
		ref := credentialRef(tenant, id)
		evs, err := events.NewAll(events.System, now,
			events.Change{Ref: ref, Payload: &events.CredentialCreated{Name: fmt.Sprintf("credential_%d", i), Provider: "custom",
				GrantType: GrantClientCredentials, ClientID: "client-" + id, Scopes: []string{"read", "write"}, TokenURL: "https://provider.example.com/oauth/token",
				ScopeSeparator: " ", ClientSecretSealed: sealed[:80], RefreshBeforeSeconds: DefaultRefreshBefore, Grants: []string{}}},
			events.Change{Ref: ref, Payload: &events.CredentialTokensStored{Version: 1, Reason: "created", TokenType: "Bearer",
				Scopes: []string{"read", "write"}, ExpiresAt: &exp, RefreshAt: &at, HasRefreshToken: true, TokensSealed: sealed}})
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range evs {
			seq++
			e.Seq, e.Stream = seq, events.Control
			batch = append(batch, e)
		}
		if len(batch) >= 500 {
			flush()
		}
	}
	flush()
}

// newTokenSealer is a sealer of token sets under a random master key.
func newTokenSealer(b testing.TB) *sealing.Sealer {
	keys, err := sealing.New(randomBytes(b, 32))
	if err != nil {
		b.Fatal(err)
	}
	return keys.Purpose(sealing.CredentialTokens)
}

func randomBytes(b testing.TB, n int) []byte {
	p := make([]byte, n)
	if _, err := rand.Read(p); err != nil {
		b.Fatal(err)
	}
	return p
}

// liveHeap is the heap in use after two collections (one leaves
// sync.Pool's victim caches).
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// cpuTime is the CPU (user + system) this process used so far.
func cpuTime() time.Duration {
	d, _ := cputime.Process()
	return d
}

// BenchmarkVaultRefreshed2k: memory per credential after many
// refreshes. 2,000 credentials as BenchmarkVaultIdle100k makes them,
// then each refreshed 24 times, every 55 minutes (an hour-long token set
// refreshed 5 minutes before it expires), as the refresher appends it:
// credential_refresh.stored on the high-volume stream, the state
// carrying the new set, and credential.refresh_moved once. The live
// heap's growth per credential, after the last round (the log's clock at
// its time): the control document, the refresh state, the kept version
// documents and their expiries.
//
// go test -run '^$' -bench 'VaultRefreshed2k' -benchtime 1x ./vault/
func BenchmarkVaultRefreshed2k(b *testing.B) {
	const n, rounds = 2_000, 24
	for b.Loop() {
		store, tokens := memory.New(), newTokenSealer(b)
		before := liveHeap()
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		fillCredentials(b, store, tokens, n, start)
		seq := map[events.Stream]uint64{events.Control: 2 * n}
		apply := func(stream events.Stream, evs []events.Event) {
			for i := range evs {
				seq[stream]++
				evs[i].Seq, evs[i].Stream = seq[stream], stream
			}
			if err := store.Update(context.Background(), stream, seq[stream], func(tx projections.Tx) error {
				for _, e := range evs {
					if err := projections.Apply(tx, e); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
		access, refresh := base64.RawURLEncoding.EncodeToString(randomBytes(b, 192)), base64.RawURLEncoding.EncodeToString(randomBytes(b, 48))
		for r := 1; r <= rounds; r++ {
			now := start.Add(time.Duration(r) * 55 * time.Minute)
			exp, at := now.Add(time.Hour), now.Add(55*time.Minute)
			var batch, moved []events.Event
			for i := range n {
				id, tenant := fmt.Sprintf("cred_%08d", i), fmt.Sprintf("t%03d", i%100)
				sealed, err := tokens.Seal(tokensAAD(id, r+1), encodeTokenSet(tokenSet{AccessToken: access, RefreshToken: refresh}))
				if err != nil {
					b.Fatal(err)
				}
				set := events.CredentialTokenSet{Version: r + 1, CreatedAt: now, ExpiresAt: &exp, RefreshAt: &at, Scopes: []string{"read", "write"},
					Reason: "refreshed", TokenType: "Bearer", HasRefreshToken: true, TokensSealed: sealed}
				st := events.CredentialRefreshState{Status: events.CredentialStatusActive, Current: r + 1, LastVersion: r + 1,
					Versions: []events.CredentialTokenSet{set}, LastRefreshedAt: &now, NextRefreshAt: &at, RefreshAttempts: r,
					Revision: uint64(r), RetainSeconds: int64(DefaultRetain / time.Second)}
				evs, err := events.NewAll(events.System, now, events.Change{Ref: refreshRef(tenant, id),
					Payload: &events.CredentialRefreshStored{State: st, Version: r + 1, Reason: "refreshed"}})
				if err != nil {
					b.Fatal(err)
				}
				batch = append(batch, evs...)
				if r == 1 {
					evs, err := events.NewAll(events.System, now, events.Change{Ref: credentialRef(tenant, id), Payload: &events.CredentialRefreshMoved{}})
					if err != nil {
						b.Fatal(err)
					}
					moved = append(moved, evs...)
				}
				if len(batch) >= 500 {
					apply(events.HighVolume, batch)
					batch = nil
				}
			}
			if len(batch) > 0 {
				apply(events.HighVolume, batch)
			}
			for len(moved) > 0 {
				k := min(500, len(moved))
				apply(events.Control, moved[:k])
				moved = moved[k:]
			}
		}
		after := liveHeap()
		perCred := float64(after-before) / n
		b.ReportMetric(perCred, "heap-B/credential")
		c, err := projections.GetCredential(context.Background(), store, "t000", "cred_00000000")
		if err != nil {
			b.Fatal(err)
		}
		kept, err := projections.CredentialVersions(context.Background(), store, c)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(kept)), "versions-kept")
		b.Logf("%d credentials refreshed %d times: live heap %d → %d bytes (%.0f B/credential), %d versions kept of the first", n, rounds, before, after, perCred, len(kept))
		runtime.KeepAlive(store)
	}
}

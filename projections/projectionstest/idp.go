package projectionstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// idpTests: the identity provider's read models (sessions, consents,
// grants) behave the same on every store, retention included.
var idpTests = map[string]func(*testing.T, projections.Store){
	"IdPSessionExpiresAndEnds":  testIdPSessions,
	"IdPGrantRotationAndReuse":  testIdPGrant,
	"IdPGrantFirstUseWins":      testIdPGrantFirstUseWins,
	"IdPUseOfAGrantGone":        testIdPUseOfAGrantGone,
	"IdPGrantsOfOneUser":        testIdPGrantsOf,
	"IdPLongFamilyStaysSmall":   testIdPLongFamily,
	"IdPConsentsGrantWithdraw":  testIdPConsents,
	"IdPPushedRequestUseExpiry": testIdPPAR,
}

func testIdPSessions(t *testing.T, s projections.Store) {
	ctx := t.Context()
	applyBatches(t, s, []events.Event{
		hvEvent("t1", events.AggSession, "s1", 0, &events.SessionStarted{UserID: "u1", AuthTime: r0, ExpiresAt: r0.Add(time.Hour)}),
		hvEvent("t1", events.AggSession, "s2", time.Second, &events.SessionStarted{UserID: "u1", AuthTime: r0, ExpiresAt: r0.Add(2 * time.Hour)}),
		hvEvent("t1", events.AggSession, "s2", 2*time.Second, &events.SessionEnded{UserID: "u1", Reason: events.SessionEndedLogout}),
	}, 1)
	got, err := projections.GetSession(ctx, s, "s1")
	if err != nil || got.UserID != "u1" || got.Tenant != "t1" || !got.ExpiresAt.Equal(r0.Add(time.Hour)) {
		t.Fatalf("GetSession s1 = %+v, %v", got, err)
	}
	if _, err := projections.GetSession(ctx, s, "s2"); !errors.Is(err, projections.ErrNotFound) {
		t.Fatalf("ended session: %v, want ErrNotFound", err)
	}
	applyBatches(t, s, []events.Event{hvEvent("t1", events.AggSession, "s3", time.Hour+time.Second,
		&events.SessionStarted{UserID: "u2", AuthTime: r0, ExpiresAt: r0.Add(3 * time.Hour)})}, 1)
	if _, err := projections.GetSession(ctx, s, "s1"); !errors.Is(err, projections.ErrNotFound) {
		t.Fatalf("expired session: %v, want ErrNotFound", err)
	}
}

func testIdPGrant(t *testing.T, s projections.Store) {
	ctx := t.Context()
	rexp := r0.Add(48 * time.Hour)
	applyBatches(t, s, []events.Event{
		hvEvent("t1", events.AggAuthzSession, "g1", 0, &events.AuthCodeIssued{CodeHash: "c1", AppID: "a1", ClientID: "cl", UserID: "u1",
			GrantedScopes: []string{"openid"}, ExpiresAt: r0.Add(time.Minute)}),
		hvEvent("t1", events.AggAuthzSession, "g1", time.Second, &events.AuthCodeRedeemed{JTI: "j1", AccessExpiresAt: r0.Add(time.Hour),
			RefreshHash: "r1", RefreshExpiresAt: &rexp}),
		hvEvent("t1", events.AggAuthzSession, "g1", 2*time.Second, &events.RefreshRotated{OldHash: "r1", NewHash: "r2", JTI: "j2",
			AccessExpiresAt: r0.Add(2 * time.Hour), RefreshExpiresAt: &rexp}),
	}, 2, 1)
	g, err := projections.GrantByCode(ctx, s, "c1")
	if err != nil || !g.Redeemed || g.Refresh != "r2" || g.UserID != "u1" {
		t.Fatalf("GrantByCode = %+v, %v", g, err)
	}
	if toks := grantTokens(t, s, g); len(toks) != 2 || !toks["j1"].Equal(r0.Add(time.Hour)) || !toks["j2"].Equal(r0.Add(2*time.Hour)) {
		t.Fatalf("the grant's access tokens = %v, want j1 and j2 with their expiries", toks)
	}
	for _, h := range []string{"r1", "r2"} {
		if g, err := projections.GrantByRefresh(ctx, s, h); err != nil || g.ID != "g1" {
			t.Fatalf("GrantByRefresh(%s) = %+v, %v", h, g, err)
		}
	}
	applyBatches(t, s, []events.Event{hvEvent("t1", events.AggAuthzSession, "g1", 3*time.Second,
		&events.GrantRevoked{Reason: events.GrantRevokedRefreshReuse})}, 1)
	if g, err := projections.GetGrant(ctx, s, "g1"); err != nil || g.Refresh != "" || g.Revoked != events.GrantRevokedRefreshReuse {
		t.Fatalf("revoked grant = %+v, %v", g, err)
	}
	// Past the refresh tokens' expiry the grant leaves the store.
	applyBatches(t, s, []events.Event{hvEvent("t1", events.AggSession, "x", 49*time.Hour,
		&events.SessionStarted{UserID: "u", AuthTime: r0, ExpiresAt: r0.Add(50 * time.Hour)})}, 1)
	if _, err := projections.GetGrant(ctx, s, "g1"); !errors.Is(err, projections.ErrNotFound) {
		t.Fatalf("expired grant: %v, want ErrNotFound", err)
	}
}

func testIdPConsents(t *testing.T, s projections.Store) {
	ctx := t.Context()
	ev := func(p events.Payload) events.Event {
		return events.MustNew(events.Ref{Tenant: "t1", Type: events.AggConsent, ID: "u1"}, events.System, r0, p)
	}
	for _, e := range []events.Event{
		ev(&events.ConsentGranted{AppID: "a1", ClientID: "c1", Scopes: []string{"openid"}}),
		ev(&events.ConsentGranted{AppID: "a2", ClientID: "c2", Scopes: []string{"x:read"}}),
		ev(&events.ConsentWithdrawn{AppID: "a1"}),
	} {
		mustWrite(t, s, func(tx projections.Tx) error { return projections.Apply(tx, e) })
	}
	c, err := projections.GetConsents(ctx, s, "t1", "u1")
	if err != nil || len(c.Apps) != 1 || c.Apps["a2"].ClientID != "c2" {
		t.Fatalf("GetConsents = %+v, %v", c, err)
	}
	if other, err := projections.GetConsents(ctx, s, "t2", "u1"); err != nil || len(other.Apps) != 0 {
		t.Fatalf("another tenant's consents = %+v, %v", other, err)
	}
	// ConsentOf: the one consent, a copy the caller may change.
	a2, ok, err := projections.ConsentOf(ctx, s, "t1", "u1", "a2")
	if err != nil || !ok || a2.ClientID != "c2" || !slices.Equal(a2.Scopes, []string{"x:read"}) {
		t.Fatalf("ConsentOf(a2) = %+v, %v, %v", a2, ok, err)
	}
	a2.Scopes[0] = "changed"
	if again, _, _ := projections.ConsentOf(ctx, s, "t1", "u1", "a2"); again.Scopes[0] != "x:read" {
		t.Fatalf("ConsentOf lent the stored scopes: %+v", again)
	}
	for _, q := range [][3]string{{"t1", "u1", "a1"}, {"t2", "u1", "a2"}, {"t1", "u2", "a2"}} {
		if got, ok, err := projections.ConsentOf(ctx, s, q[0], q[1], q[2]); err != nil || ok || got.ClientID != "" {
			t.Fatalf("ConsentOf%v = %+v, %v, %v; want none", q, got, ok, err)
		}
	}
}

func testIdPPAR(t *testing.T, s projections.Store) {
	ctx := t.Context()
	params := map[string][]string{"response_type": {"code"}, "redirect_uri": {"https://rp.example/cb"}}
	applyBatches(t, s, []events.Event{
		hvEvent("t1", events.AggPAR, "p1", 0, &events.PARPushed{AppID: "a1", ClientID: "cl", Params: params, ExpiresAt: r0.Add(time.Minute)}),
		hvEvent("t1", events.AggPAR, "p2", time.Second, &events.PARPushed{AppID: "a1", ClientID: "cl", Params: params, ExpiresAt: r0.Add(time.Minute)}),
		hvEvent("t1", events.AggPAR, "p2", 2*time.Second, &events.PARUsed{UserID: "u1"}),
	}, 2, 1)
	p, err := projections.GetPAR(ctx, s, "p1")
	if err != nil || p.Used || p.ClientID != "cl" || p.Tenant != "t1" || p.Params["redirect_uri"][0] != "https://rp.example/cb" {
		t.Fatalf("GetPAR p1 = %+v, %v", p, err)
	}
	if p, err := projections.GetPAR(ctx, s, "p2"); err != nil || !p.Used {
		t.Fatalf("GetPAR p2 = %+v, %v; want used", p, err)
	}
	// Past its expiry the pushed request leaves the store.
	applyBatches(t, s, []events.Event{hvEvent("t1", events.AggSession, "x", 2*time.Minute,
		&events.SessionStarted{UserID: "u", AuthTime: r0, ExpiresAt: r0.Add(time.Hour)})}, 1)
	if _, err := projections.GetPAR(ctx, s, "p1"); !errors.Is(err, projections.ErrNotFound) {
		t.Fatalf("expired pushed request: %v, want ErrNotFound", err)
	}
}

// testIdPGrantFirstUseWins: uses of a code or a refresh token are not
// conditional appends; the log's order decides. The first redemption and
// the first rotation of the live refresh token are accepted (Won); a
// later one revokes the grant (its reuse reason), leaves what the first
// issued findable as used, never makes its own refresh token live, and a
// use after a revocation changes nothing but the log position. A second
// revocation keeps the first reason.
func testIdPGrantFirstUseWins(t *testing.T, s projections.Store) {
	ctx := t.Context()
	rexp := r0.Add(time.Hour)
	issued := func(id string) events.Event {
		return hvEvent("t1", events.AggAuthzSession, id, 0, &events.AuthCodeIssued{CodeHash: "c-" + id, AppID: "a1",
			ClientID: "cl", UserID: "u1", ExpiresAt: r0.Add(time.Minute)})
	}
	redeemed := func(id, jti, refresh string, at time.Duration) events.Event {
		return hvEvent("t1", events.AggAuthzSession, id, at, &events.AuthCodeRedeemed{JTI: jti, AccessExpiresAt: r0.Add(time.Hour),
			RefreshHash: refresh, RefreshExpiresAt: &rexp})
	}
	rotated := func(id, from, to, jti string, at time.Duration) events.Event {
		return hvEvent("t1", events.AggAuthzSession, id, at, &events.RefreshRotated{OldHash: from, NewHash: to, JTI: jti,
			AccessExpiresAt: r0.Add(time.Hour), RefreshExpiresAt: &rexp})
	}
	revoked := func(id, reason string, at time.Duration) events.Event {
		return hvEvent("t1", events.AggAuthzSession, id, at, &events.GrantRevoked{Reason: reason})
	}
	applyBatches(t, s, []events.Event{
		issued("gc"), redeemed("gc", "jc1", "rc1", time.Second), redeemed("gc", "jc2", "rc2", time.Second),
		issued("gr"), redeemed("gr", "jr1", "rr1", time.Second), rotated("gr", "rr1", "rr2", "jr2", 2*time.Second),
		rotated("gr", "rr1", "rr3", "jr3", 2*time.Second),
		issued("gx"), redeemed("gx", "jx1", "rx1", time.Second), revoked("gx", events.GrantRevokedConsent, 2*time.Second),
		rotated("gx", "rx1", "rx2", "jx2", 3*time.Second), revoked("gx", events.GrantRevokedUser, 4*time.Second),
	}, 3, 4, 5)
	for _, c := range []struct {
		id, won, lost, reason string
		used, never           string
		tokens                int // the grant's access tokens, its own only
	}{
		{"gc", "jc1", "jc2", events.GrantRevokedCodeReuse, "rc1", "rc2", 1},
		{"gr", "jr2", "jr3", events.GrantRevokedRefreshReuse, "rr2", "rr3", 2},
		{"gx", "jx1", "jx2", events.GrantRevokedConsent, "rx1", "rx2", 1},
	} {
		g, err := projections.GetGrant(ctx, s, c.id)
		if err != nil || !g.Won(c.won) || g.Won(c.lost) || g.Revoked != c.reason || g.Refresh != "" {
			t.Fatalf("grant %s = %+v, %v; want won by %s, not %s, revoked for %s", c.id, g, err, c.won, c.lost, c.reason)
		}
		if toks := grantTokens(t, s, g); len(toks) != c.tokens || toks[c.lost] != (time.Time{}) || toks[c.won].IsZero() {
			t.Errorf("grant %s: access tokens %v, want the winner's %s and not the loser's %s", c.id, toks, c.won, c.lost)
		}
		if got, err := projections.GrantByRefresh(ctx, s, c.used); err != nil || got.ID != c.id {
			t.Errorf("grant %s: the winner's refresh token %s = %+v, %v; want it known as used", c.id, c.used, got, err)
		}
		if _, err := projections.GrantByRefresh(ctx, s, c.never); !errors.Is(err, projections.ErrNotFound) {
			t.Errorf("grant %s: the loser's refresh token %s: %v, want ErrNotFound", c.id, c.never, err)
		}
	}
	if (projections.Grant{}).Won("") {
		t.Error("a grant never used was won by an empty jti")
	}
}

// testIdPUseOfAGrantGone: a use or a revocation of a grant that
// retention dropped (its code or its family expired by the log's clock
// before the event came: uses are appended without expectation, their
// times are the instances' clocks) changes nothing and fails nothing,
// so the high-volume stream's projection goes on (a reducer error would
// stop it); the token request that wrote it finds no grant and answers
// invalid_grant (idp's Commit).
func testIdPUseOfAGrantGone(t *testing.T, s projections.Store) {
	ctx := t.Context()
	rexp := r0.Add(2 * time.Minute)
	applyBatches(t, s, []events.Event{
		hvEvent("t1", events.AggAuthzSession, "gone-code", 0, &events.AuthCodeIssued{CodeHash: "c-gone", AppID: "a1", ClientID: "cl",
			UserID: "u1", ExpiresAt: r0.Add(time.Minute)}),
		hvEvent("t1", events.AggAuthzSession, "gone-family", 0, &events.AuthCodeIssued{CodeHash: "c-family", AppID: "a1", ClientID: "cl",
			UserID: "u1", ExpiresAt: r0.Add(time.Minute)}),
		hvEvent("t1", events.AggAuthzSession, "gone-family", time.Second, &events.AuthCodeRedeemed{JTI: "jf1",
			AccessExpiresAt: r0.Add(time.Minute), RefreshHash: "rf1", RefreshExpiresAt: &rexp}),
	}, 3)
	// The code's redemption comes a second after its expiry; the
	// family's rotation and revocation after the family's.
	applyBatches(t, s, []events.Event{
		hvEvent("t1", events.AggAuthzSession, "gone-code", time.Minute+time.Second, &events.AuthCodeRedeemed{JTI: "jc1",
			AccessExpiresAt: r0.Add(time.Hour), RefreshHash: "rc1", RefreshExpiresAt: &rexp}),
		hvEvent("t1", events.AggAuthzSession, "gone-family", 2*time.Minute+time.Second, &events.RefreshRotated{OldHash: "rf1", NewHash: "rf2",
			JTI: "jf2", AccessExpiresAt: r0.Add(time.Hour), RefreshExpiresAt: &rexp}),
		hvEvent("t1", events.AggAuthzSession, "gone-family", 2*time.Minute+2*time.Second, &events.GrantRevoked{Reason: events.GrantRevokedRefreshReuse}),
	}, 1, 2)
	for _, id := range []string{"gone-code", "gone-family"} {
		if g, err := projections.GetGrant(ctx, s, id); !errors.Is(err, projections.ErrNotFound) {
			t.Errorf("grant %s used after retention dropped it = %+v, %v; want ErrNotFound", id, g, err)
		}
	}
	for _, h := range []string{"rc1", "rf1", "rf2"} {
		if g, err := projections.GrantByRefresh(ctx, s, h); !errors.Is(err, projections.ErrNotFound) {
			t.Errorf("refresh token %s of a grant gone = %+v, %v; want ErrNotFound", h, g, err)
		}
	}
	if toks := grantTokens(t, s, projections.Grant{ID: "gone-code", Tenant: "t1"}); len(toks) != 0 {
		t.Errorf("access tokens of a grant gone: %v, want none", toks)
	}
}

// grantTokens returns the access tokens of g not expired by the log's
// clock (jti → expiry).
func grantTokens(t *testing.T, s projections.Store, g projections.Grant) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	if err := projections.EachGrantToken(t.Context(), s, g, func(jti string, exp time.Time) error {
		out[jti] = exp
		return nil
	}); err != nil {
		t.Fatalf("EachGrantToken(%s): %v", g.ID, err)
	}
	return out
}

// listSpy counts the documents List hands out and remembers whether it
// handed out one of user "a0" (whose grants sort before the others').
type listSpy struct {
	projections.Reader
	docs    int
	touched bool
}

func (l *listSpy) List(ctx context.Context, kind, tenant string, p projections.Page) ([]projections.Doc, string, error) {
	docs, next, err := l.Reader.List(ctx, kind, tenant, p)
	l.docs += len(docs)
	for _, d := range docs {
		l.touched = l.touched || strings.HasPrefix(d.Sort, "a0/")
	}
	return docs, next, err
}

// testIdPGrantsOf: a user's grants of an app (a withdrawn consent), or of
// every app (a disabled user), are read as their own range of the
// tenant's grants: another user's grants, however many sort before, are
// never listed, and a user id that extends another ("u1", "u10") is not
// mistaken for it.
func testIdPGrantsOf(t *testing.T, s projections.Store) {
	ctx := t.Context()
	var evs []events.Event
	grant := func(id, user, app string) {
		evs = append(evs, hvEvent("t1", events.AggAuthzSession, id, 0, &events.AuthCodeIssued{CodeHash: "c-" + id, AppID: app,
			ClientID: "cl", UserID: user, ExpiresAt: r0.Add(time.Hour)}))
	}
	for i := range 250 {
		grant(fmt.Sprintf("ga0-%03d", i), "a0", "app1")
	}
	grant("g1", "u1", "app1")
	grant("g2", "u1", "app1")
	grant("g3", "u1", "app2")
	grant("g4", "u10", "app1")
	grant("g5", "u2", "app1")
	evs = append(evs, hvEvent("t2", events.AggAuthzSession, "g6", 0, &events.AuthCodeIssued{CodeHash: "c-g6", AppID: "app1",
		ClientID: "cl", UserID: "u1", ExpiresAt: r0.Add(time.Hour)}))
	applyBatches(t, s, evs, 100)
	ids := func(user, app string) ([]string, *listSpy) {
		t.Helper()
		spy := &listSpy{Reader: s}
		var out []string
		if err := projections.EachGrantOf(ctx, spy, "t1", user, app, func(g projections.Grant) error {
			out = append(out, g.ID)
			return nil
		}); err != nil {
			t.Fatalf("EachGrantOf(%s, %s): %v", user, app, err)
		}
		slices.Sort(out)
		return out, spy
	}
	for _, c := range []struct {
		user, app string
		want      []string
	}{
		{"u1", "app1", []string{"g1", "g2"}},
		{"u1", "", []string{"g1", "g2", "g3"}},
		{"u10", "", []string{"g4"}},
		{"u3", "", nil},
	} {
		got, spy := ids(c.user, c.app)
		if !slices.Equal(got, c.want) {
			t.Errorf("EachGrantOf(%s, %q) = %v, want %v", c.user, c.app, got, c.want)
		}
		if spy.touched || spy.docs > 100 {
			t.Errorf("EachGrantOf(%s, %q) listed %d documents (another user's: %v): it scans", c.user, c.app, spy.docs, spy.touched)
		}
	}
}

// testIdPLongFamily: a family rotated many times keeps a grant document
// of bounded size (used refresh hashes are documents of their own, access
// tokens expired by the log's clock are dropped), yet every used hash
// still leads to the grant (reuse is recognised), and a revocation turns
// the live one into a used one.
func testIdPLongFamily(t *testing.T, s projections.Store) {
	ctx := t.Context()
	rexp := r0.Add(30 * 24 * time.Hour)
	hash := func(i int) string { return fmt.Sprintf("lf-r%04d", i) }
	evs := []events.Event{
		hvEvent("t1", events.AggAuthzSession, "lf", 0, &events.AuthCodeIssued{CodeHash: "lf-c", AppID: "a1", ClientID: "cl", UserID: "u1",
			ExpiresAt: r0.Add(time.Minute)}),
		hvEvent("t1", events.AggAuthzSession, "lf", time.Second, &events.AuthCodeRedeemed{JTI: "lf-j0", AccessExpiresAt: r0.Add(time.Minute + time.Second),
			RefreshHash: hash(0), RefreshExpiresAt: &rexp}),
	}
	const n = 300
	for i := 1; i <= n; i++ {
		at := time.Duration(i) * time.Minute
		evs = append(evs, hvEvent("t1", events.AggAuthzSession, "lf", at, &events.RefreshRotated{OldHash: hash(i - 1), NewHash: hash(i),
			JTI: fmt.Sprintf("lf-j%d", i), AccessExpiresAt: r0.Add(at + 90*time.Second), RefreshExpiresAt: &rexp}))
	}
	applyBatches(t, s, evs, 50, 7)
	d, err := s.Get(ctx, projections.KindGrant, "lf")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Body) > 2048 || len(d.Keys) != 2 {
		t.Errorf("after %d rotations the grant document is %d bytes with %d keys, want it small (under 2 KiB, the code's and the live token's keys)", n, len(d.Body), len(d.Keys))
	}
	g, err := projections.GetGrant(ctx, s, "lf")
	if err != nil || g.Rotations != n || g.Refresh != hash(n) {
		t.Fatalf("grant after %d rotations: rotations %d, refresh %s, %v", n, g.Rotations, g.Refresh, err)
	}
	if toks := grantTokens(t, s, g); len(toks) > 2 || toks[fmt.Sprintf("lf-j%d", n)].IsZero() {
		t.Fatalf("grant after %d rotations: live access tokens %v, want at most 2, the last one's among them", n, toks)
	}
	for _, i := range []int{0, 1, n / 2, n - 1, n} {
		if g, err := projections.GrantByRefresh(ctx, s, hash(i)); err != nil || g.ID != "lf" {
			t.Errorf("GrantByRefresh(%s) = %q, %v; want the grant", hash(i), g.ID, err)
		}
	}
	applyBatches(t, s, []events.Event{hvEvent("t1", events.AggAuthzSession, "lf", (n+1)*time.Minute,
		&events.GrantRevoked{Reason: events.GrantRevokedRefreshReuse})}, 1)
	if g, err := projections.GrantByRefresh(ctx, s, hash(n)); err != nil || g.ID != "lf" || g.Refresh != "" || g.Revoked == "" {
		t.Errorf("the revoked family's last token: %+v, %v; want the revoked grant", g, err)
	}
}

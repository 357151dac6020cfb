package e2e

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"golang.org/x/oauth2"
)

// usesAtOnce are the concurrent uses of one code or one refresh token in
// TestCodeFlowConcurrentUses.
const usesAtOnce = 8

// TestCodeFlowConcurrentUses: usesAtOnce uses at once of one code, then
// of one refresh token, on one instance and spread over two: exactly one
// answers 200 and every other invalid_grant (never server_error: the
// log's order decides, see idp's grants), and the grant is dead
// afterwards (a second use revokes what the first issued, RFC 9700
// §4.14.2): the winner's access token inactive on both instances, its
// refresh token refused.
func TestCodeFlowConcurrentUses(t *testing.T) {
	t.Parallel()
	a, b, app, p := codeFlowCluster(t)
	nodes := []*api{a, b}
	for _, spread := range []struct {
		name string
		on   []int // the instances the uses go to, in turn
	}{{"one instance", []int{0}}, {"two instances", []int{0, 1}}} {
		t.Run(spread.name, func(t *testing.T) {
			at := func(i int) (*api, *oauth2.Config) {
				n := nodes[spread.on[i%len(spread.on)]]
				return n, rpOn(app, n.s.URL)
			}
			// One code, redeemed usesAtOnce times at once.
			verifier := oauth2.GenerateVerifier()
			q, _ := p.authorize(a.s.URL, rpOn(app, a.s.URL).AuthCodeURL("state-race", oauth2.S256ChallengeOption(verifier)))
			tok := oneWinner(t, "redemption of one code", func(i int) (*oauth2.Token, error) {
				n, cfg := at(i)
				return cfg.Exchange(oauthContext(t, n.hc), q.Get("code"), oauth2.VerifierOption(verifier))
			})
			eventuallyInactive(t, tok.AccessToken, "the winning redemption's access token", a, b)
			_, err := refresh(b, rpOn(app, b.s.URL), tok.RefreshToken)
			wantInvalidGrant(t, err, "the winning redemption's refresh token")

			// A fresh family, its refresh token rotated usesAtOnce times
			// at once.
			verifier = oauth2.GenerateVerifier()
			q, _ = p.authorize(a.s.URL, rpOn(app, a.s.URL).AuthCodeURL("state-race-2", oauth2.S256ChallengeOption(verifier)))
			first, err := rpOn(app, a.s.URL).Exchange(oauthContext(t, a.hc), q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil || first.RefreshToken == "" {
				t.Fatalf("exchange: %v (refresh token %q)", err, first.RefreshToken)
			}
			tok = oneWinner(t, "rotation of one refresh token", func(i int) (*oauth2.Token, error) {
				n, cfg := at(i)
				return refresh(n, cfg, first.RefreshToken)
			})
			eventuallyInactive(t, tok.AccessToken, "the winning rotation's access token", a, b)
			eventuallyInactive(t, first.AccessToken, "the family's first access token", a, b)
			for i, n := range nodes {
				_, err := refresh(n, rpOn(app, n.s.URL), tok.RefreshToken)
				wantInvalidGrant(t, err, fmt.Sprintf("the winning rotation's refresh token on instance %d", i))
			}
		})
	}
}

// oneWinner runs use usesAtOnce times at once and wants exactly one
// token, every other answer invalid_grant; it returns the token.
func oneWinner(t *testing.T, what string, use func(i int) (*oauth2.Token, error)) *oauth2.Token {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		won   []*oauth2.Token
		other []error
	)
	start := make(chan struct{})
	for i := range usesAtOnce {
		wg.Go(func() {
			<-start
			tok, err := use(i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				other = append(other, err)
				return
			}
			won = append(won, tok)
		})
	}
	close(start)
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%s %d times at once: %d answers 200, want exactly one (errors: %v)", what, usesAtOnce, len(won), other)
	}
	for _, err := range other {
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Fatalf("%s %d times at once: a loser got %v, want invalid_grant", what, usesAtOnce, err)
		}
	}
	return won[0]
}

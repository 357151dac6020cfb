package jwks

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/projections"
)

// TestVerifiedTokenStopsWithItsKey: a token verified before is answered
// from the cache, the same claims as the first time (whatever the caller
// did with the first copy), for its typ only; once its key is no longer
// published it fails at once, as it would without the cache.
func TestVerifiedTokenStopsWithItsKey(t *testing.T) {
	master := masterKey(t)
	d := genesis(t, master, ES256)
	var drop string
	src := KeySourceFunc(func(ctx context.Context) ([]projections.Key, error) {
		var out []projections.Key
		for _, k := range d.keys() {
			if k.KID != drop {
				out = append(out, k)
			}
		}
		return out, nil
	})
	ring := newRing(t, master, src)
	tok, err := ring.Sign(claims, "at+jwt")
	if err != nil {
		t.Fatal(err)
	}
	first, kid, err := ring.VerifyType(tok, "at+jwt")
	if err != nil {
		t.Fatal(err)
	}
	want := string(first)
	first[0] = 'X' // the caller's copy, not the cache's
	again, kid2, err := ring.VerifyType(tok, "at+jwt")
	if err != nil || string(again) != want || kid2 != kid {
		t.Fatalf("second VerifyType = %s, %s, %v; want %s, %s", again, kid2, err, want, kid)
	}
	if _, _, err := ring.VerifyType(tok, "jwt+other"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("VerifyType with another typ after a cached success: %v, want %v", err, ErrInvalidToken)
	}
	drop = kid
	if err := ring.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ring.VerifyType(tok, "at+jwt"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("VerifyType once the key is gone: %v, want %v", err, ErrUnknownKey)
	}
}

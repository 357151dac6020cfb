package idp

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/token/hmac"
)

// TestCodeTokens: codeTokens makes and checks the tokens fosite's
// HMACSHAStrategy does: each validates the other's codes and refresh
// tokens, under the global secret or a rotated one, with the same
// signatures, and both refuse the same tokens with the same errors.
func TestCodeTokens(t *testing.T) {
	ctx := context.Background()
	old := bytes.Repeat([]byte{7}, 40)
	cfg := &fosite.Config{GlobalSecret: bytes.Repeat([]byte{3}, 32), RotatedGlobalSecrets: [][]byte{old},
		AuthorizeCodeLifespan: time.Minute}
	ours := newCodeTokens(cfg)
	theirs := oauth2.NewHMACSHAStrategy(&hmac.HMACStrategy{Config: cfg}, cfg)
	oldCfg := &fosite.Config{GlobalSecret: old}
	theirsOld := oauth2.NewHMACSHAStrategy(&hmac.HMACStrategy{Config: oldCfg}, oldCfg)

	live := fosite.NewRequest()
	live.RequestedAt = time.Now().UTC()
	live.Session = &fosite.DefaultSession{}
	expired := fosite.NewRequest()
	expired.RequestedAt = time.Now().UTC().Add(-time.Hour)
	expired.Session = &fosite.DefaultSession{ExpiresAt: map[fosite.TokenType]time.Time{fosite.RefreshToken: time.Now().UTC().Add(-time.Second)}}
	expiredAt := fosite.NewRequest()
	expiredAt.RequestedAt = time.Now().UTC()
	expiredAt.Session = &fosite.DefaultSession{ExpiresAt: map[fosite.TokenType]time.Time{fosite.AuthorizeCode: time.Now().UTC().Add(-time.Second)}}

	type kind struct {
		name     string
		generate func(oauth2.CoreStrategy, *codeTokens) (string, string, string, string)
		sig      func(context.Context, string) string
		check    func(s interface {
			ValidateRefreshToken(context.Context, fosite.Requester, string) error
			ValidateAuthorizeCode(context.Context, fosite.Requester, string) error
		}, r fosite.Requester, tok string) error
	}
	var tokens []string
	for _, k := range []kind{
		{"refresh", func(f oauth2.CoreStrategy, o *codeTokens) (string, string, string, string) {
			a, as, _ := f.GenerateRefreshToken(ctx, live)
			b, bs, _ := o.GenerateRefreshToken(ctx, live)
			return a, as, b, bs
		}, ours.RefreshTokenSignature, func(s interface {
			ValidateRefreshToken(context.Context, fosite.Requester, string) error
			ValidateAuthorizeCode(context.Context, fosite.Requester, string) error
		}, r fosite.Requester, tok string) error {
			return s.ValidateRefreshToken(ctx, r, tok)
		}},
		{"code", func(f oauth2.CoreStrategy, o *codeTokens) (string, string, string, string) {
			a, as, _ := f.GenerateAuthorizeCode(ctx, live)
			b, bs, _ := o.GenerateAuthorizeCode(ctx, live)
			return a, as, b, bs
		}, ours.AuthorizeCodeSignature, func(s interface {
			ValidateRefreshToken(context.Context, fosite.Requester, string) error
			ValidateAuthorizeCode(context.Context, fosite.Requester, string) error
		}, r fosite.Requester, tok string) error {
			return s.ValidateAuthorizeCode(ctx, r, tok)
		}},
	} {
		fTok, fSig, oTok, oSig := k.generate(theirs, ours)
		oldTok, _, _, _ := k.generate(theirsOld, ours)
		prefix := fTok[:7]
		if !strings.HasPrefix(oTok, prefix) || len(oTok) != len(fTok) || len(oSig) != len(fSig) {
			t.Errorf("%s: ours %q (%q), fosite's %q (%q)", k.name, oTok, oSig, fTok, fSig)
		}
		if got := k.sig(ctx, fTok); got != fSig {
			t.Errorf("%s: signature of fosite's token %q, want %q", k.name, got, fSig)
		}
		if got := k.sig(ctx, oTok); got != oSig {
			t.Errorf("%s: signature of our token %q, want %q", k.name, got, oSig)
		}
		for _, tok := range []string{fTok, oTok, oldTok} {
			if err := k.check(ours, live, tok); err != nil {
				t.Errorf("%s: ours refuses %q: %v", k.name, tok, err)
			}
			if err := k.check(theirs, live, tok); err != nil {
				t.Errorf("%s: fosite refuses %q: %v", k.name, tok, err)
			}
		}
		raw, sig, _ := strings.Cut(oTok, ".")
		bad := []string{"", prefix, prefix + ".", prefix + "abc.", "." + sig, raw + "." + sig[:len(sig)-2] + "AA",
			raw + "." + sig + "x", raw + "." + "***", "***." + sig, raw[:len(raw)-1] + "A." + sig, raw + "." + sig + ".x"}
		tokens = append(tokens, bad...)
		for _, tok := range bad {
			sameRefusal(t, k.name+" "+tok, k.check(ours, live, tok), k.check(theirs, live, tok))
		}
		for _, r := range []fosite.Requester{expired, expiredAt} {
			sameRefusal(t, k.name+" expired", k.check(ours, r, oTok), k.check(theirs, r, oTok))
		}
	}
	for _, tok := range append(tokens, "a.b", "a.b.c", "abc", ".", "a.", ".b") {
		if got, want := ours.RefreshTokenSignature(ctx, tok), theirs.RefreshTokenSignature(ctx, tok); got != want {
			t.Errorf("signature of %q: %q, fosite %q", tok, got, want)
		}
	}
	short := newCodeTokens(&fosite.Config{GlobalSecret: []byte("short")})
	shortF := oauth2.NewHMACSHAStrategy(&hmac.HMACStrategy{Config: &fosite.Config{GlobalSecret: []byte("short")}}, cfg)
	_, _, err := short.GenerateRefreshToken(ctx, live)
	_, _, errF := shortF.GenerateRefreshToken(ctx, live)
	sameRefusal(t, "short secret", err, errF)
}

// sameRefusal fails unless ours and fosite's are both errors with the
// same text, both nil, and the same fosite error kinds.
func sameRefusal(t *testing.T, what string, ours, theirs error) {
	t.Helper()
	if (ours == nil) != (theirs == nil) || (ours != nil && ours.Error() != theirs.Error()) {
		t.Errorf("%s: ours %v, fosite %v", what, ours, theirs)
		return
	}
	for _, e := range []error{fosite.ErrTokenExpired, fosite.ErrInvalidTokenFormat, fosite.ErrTokenSignatureMismatch} {
		if errors.Is(ours, e) != errors.Is(theirs, e) {
			t.Errorf("%s: ours %v, fosite %v: not both %v", what, ours, theirs, e)
		}
	}
	if ours != nil {
		var o, f *fosite.RFC6749Error
		if errors.As(ours, &o) != errors.As(theirs, &f) || (o != nil && o.GetDescription() != f.GetDescription()) {
			t.Errorf("%s: ours %#v, fosite %#v", what, o, f)
		}
	}
}

func BenchmarkCodeTokens(b *testing.B) {
	ctx := context.Background()
	cfg := &fosite.Config{GlobalSecret: bytes.Repeat([]byte{3}, 32)}
	r := fosite.NewRequest()
	r.Session = &fosite.DefaultSession{}
	for _, s := range []struct {
		name string
		s    oauth2.RefreshTokenStrategy
	}{{"fosite", oauth2.NewHMACSHAStrategy(&hmac.HMACStrategy{Config: cfg}, cfg)}, {"ours", newCodeTokens(cfg)}} {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tok, _, err := s.s.GenerateRefreshToken(ctx, r)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.s.ValidateRefreshToken(ctx, r, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package jwks

import (
	"testing"
)

// benchClaims is an access token's claims (RFC 9068 §2.2).
var benchClaims = map[string]any{
	"iss": "https://gatehouse.example.com", "sub": "client_billing", "aud": "https://api.example.com",
	"client_id": "client_billing", "scope": "invoices:read invoices:write", "tid": "acme",
	"jti": "jti_3kq1x7", "iat": 1748779200, "exp": 1748782800,
}

// BenchmarkSign signs an access token with the active key, as the token
// endpoint does, from all Ps at once.
func BenchmarkSign(b *testing.B) {
	for _, alg := range allAlgs {
		b.Run(alg, func(b *testing.B) {
			ring, _ := ringOf(b, alg)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := ring.Sign(benchClaims, "at+jwt"); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkVerify verifies an access token against the keyring.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range allAlgs {
		b.Run(alg, func(b *testing.B) {
			ring, _ := ringOf(b, alg)
			token, err := ring.Sign(benchClaims, "at+jwt")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := ring.Verify(token); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkJWKS is the /.well-known/jwks.json hot path: the cached bytes
// and their ETag.
func BenchmarkJWKS(b *testing.B) {
	ring, _ := ringOf(b, ES256)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if body, etag := ring.PublicJWKS(); len(body) == 0 || etag == "" {
				b.Fatal("empty JWKS")
			}
		}
	})
}

// BenchmarkRefreshUnchanged is the Rotator's round when no key changed.
func BenchmarkRefreshUnchanged(b *testing.B) {
	ring, _ := ringOf(b, ES256)
	b.ReportAllocs()
	for b.Loop() {
		if err := ring.Refresh(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

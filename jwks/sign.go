package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Errors of signing and verification. Callers test them with errors.Is.
var (
	// ErrNoActiveKey: the keyring has no active key (the rotator has not
	// created one yet, or the keyring was never refreshed).
	ErrNoActiveKey = errors.New("jwks: no active signing key")
	// ErrUnknownKey: no published key has that kid.
	ErrUnknownKey = errors.New("jwks: unknown key")
	// ErrInvalidToken: the token is malformed, names an algorithm other than
	// its key's, or its signature does not verify.
	ErrInvalidToken = errors.New("jwks: invalid token")
)

// maxTokenSize bounds what Verify parses.
const maxTokenSize = 16 << 10

// Signer signs with one private key. It is immutable and safe for
// concurrent use; a keyring hands out the active key's Signer.
type Signer struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
	// direct: signCompact handles the key, one of the kind its algorithm
	// signs with (checkAlg), as every key the keyring opens is. Anything
	// else goes through go-jose.
	direct bool
	// byTyp caches a jose.Signer per "typ" header: building one per token
	// would cost an allocation-heavy setup on the hot path.
	byTyp sync.Map // string → jose.Signer
	// headers caches the encoded protected header per "typ" for the
	// direct path (signCompact), which go-jose would re-encode per token.
	headers sync.Map // string → string
}

func newSigner(kid, alg string, priv crypto.Signer) *Signer {
	return &Signer{kid: kid, alg: jose.SignatureAlgorithm(alg), priv: priv, direct: checkAlg(alg, priv) == nil}
}

// KID returns the key ID the Signer puts in each header (RFC 7515 §4.1.4).
func (s *Signer) KID() string { return s.kid }

// Alg returns the key's algorithm (RFC 7518 §3.1).
func (s *Signer) Alg() string { return string(s.alg) }

// Sign returns claims as a JWS in compact serialization (RFC 7515 §7.1)
// whose protected header holds alg, kid and typ — "at+jwt" for access tokens
// (RFC 9068 §2.1), "JWT" for ID tokens. claims is JSON-encoded, unless it is
// already JSON ([]byte or json.RawMessage) or encodes itself
// (AppendJSON, as json.Marshal would).
func (s *Signer) Sign(claims any, typ string) (string, error) {
	if c, ok := claims.(jsonAppender); ok && s.direct {
		// The claims are encoded into a pooled buffer: signCompact keeps
		// nothing of the payload but its base64url in the token.
		bp := payloadBufs.Get().(*[]byte)
		*bp = c.AppendJSON((*bp)[:0])
		tok, err := s.signCompact(*bp, typ)
		if cap(*bp) <= maxTokenSize {
			payloadBufs.Put(bp)
		}
		return tok, err
	}
	payload, err := encodeClaims(claims)
	if err != nil {
		return "", err
	}
	if s.direct {
		return s.signCompact(payload, typ)
	}
	js, err := s.joseSigner(typ)
	if err != nil {
		return "", err
	}
	obj, err := js.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("jwks: sign with %s: %w", s.kid, err)
	}
	return obj.CompactSerialize()
}

// jsonAppender is claims that encode themselves, as json.Marshal would
// (oauth.AccessClaims, idp.IDClaims): no reflection per token.
type jsonAppender interface {
	AppendJSON(b []byte) []byte
}

// payloadBufs are the buffers of the claims of tokens the direct path
// signs (an allocation per token otherwise).
var payloadBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func encodeClaims(claims any) ([]byte, error) {
	switch c := claims.(type) {
	case []byte:
		return c, nil
	case json.RawMessage:
		return c, nil
	case jsonAppender:
		return c.AppendJSON(make([]byte, 0, 512)), nil
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return nil, fmt.Errorf("jwks: encode claims: %w", err)
	}
	return b, nil
}

// signCompact is what go-jose's Sign and CompactSerialize do for one
// protected header {"alg","kid","typ"} (the same bytes: members in that
// order, as go-jose sorts them), writing the JWS into one buffer instead
// of encoding the header and copying the parts per token.
func (s *Signer) signCompact(payload []byte, typ string) (string, error) {
	hdr, err := s.header(typ)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	// The JWS is built on the stack when it fits (an ES256 access or ID
	// token does) and copied once into the string returned.
	var stack [2048]byte
	buf := stack[:0]
	if n := len(hdr) + 1 + enc.EncodedLen(len(payload)) + 1 + enc.EncodedLen(512); n > len(stack) {
		buf = make([]byte, 0, n)
	}
	buf = append(buf, hdr...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	var sig []byte
	switch k := s.priv.(type) {
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256(buf)
		// The signature ecdsa.Sign makes (the same hedged signing), taken
		// from its DER without the two big.Int ecdsa.Sign parses it into.
		der, err := ecdsa.SignASN1(rand.Reader, k, digest[:])
		if err != nil {
			return "", fmt.Errorf("jwks: sign with %s: %w", s.kid, err)
		}
		var rs [64]byte // RFC 7518 §3.4: R and S, 32 octets each
		if !fixedRS(der, &rs) {
			return "", fmt.Errorf("jwks: sign with %s: a malformed ECDSA signature", s.kid)
		}
		sig = rs[:]
	case *rsa.PrivateKey:
		digest := sha256.Sum256(buf)
		if sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:]); err != nil {
			return "", fmt.Errorf("jwks: sign with %s: %w", s.kid, err)
		}
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, buf)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// fixedRS writes the DER ECDSA signature der (a SEQUENCE of the
// INTEGERs r and s) as R and S of 32 octets each, big-endian and
// left-padded with zeros (RFC 7518 §3.4); false if der is not one of a
// P-256 signature.
func fixedRS(der []byte, rs *[64]byte) bool {
	var inner cryptobyte.String
	var r, s []byte
	in := cryptobyte.String(der)
	if !in.ReadASN1(&inner, asn1.SEQUENCE) || !in.Empty() || !inner.ReadASN1Integer(&r) ||
		!inner.ReadASN1Integer(&s) || !inner.Empty() || len(r) > 32 || len(s) > 32 {
		return false
	}
	*rs = [64]byte{}
	copy(rs[32-len(r):32], r)
	copy(rs[64-len(s):], s)
	return true
}

// header returns the encoded protected header for typ, encoding it once.
func (s *Signer) header(typ string) (string, error) {
	if v, ok := s.headers.Load(typ); ok {
		return v.(string), nil
	}
	b, err := json.Marshal(struct {
		Alg string `json:"alg"`
		KID string `json:"kid"`
		Typ string `json:"typ,omitempty"`
	}{string(s.alg), s.kid, typ})
	if err != nil {
		return "", fmt.Errorf("jwks: header for %s: %w", s.kid, err)
	}
	v, _ := s.headers.LoadOrStore(typ, base64.RawURLEncoding.EncodeToString(b))
	return v.(string), nil
}

// joseSigner returns the cached jose.Signer for typ, building it once.
// jose.Signer only reads its configuration when signing, so one value
// serves concurrent callers.
func (s *Signer) joseSigner(typ string) (jose.Signer, error) {
	if v, ok := s.byTyp.Load(typ); ok {
		return v.(jose.Signer), nil
	}
	key := jose.JSONWebKey{Key: s.priv, KeyID: s.kid, Algorithm: string(s.alg)}
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: key}, opts)
	if err != nil {
		return nil, fmt.Errorf("jwks: signer for %s: %w", s.kid, err)
	}
	v, _ := s.byTyp.LoadOrStore(typ, js)
	return v.(jose.Signer), nil
}

// Verifier checks signatures of one public key.
type Verifier struct {
	kid string
	alg jose.SignatureAlgorithm
	pub crypto.PublicKey
}

// KID returns the key ID.
func (v *Verifier) KID() string { return v.kid }

// Alg returns the key's algorithm.
func (v *Verifier) Alg() string { return string(v.alg) }

// PublicKey returns the public key.
func (v *Verifier) PublicKey() crypto.PublicKey { return v.pub }

// Verify checks that token is a compact JWS by this key and returns its
// payload. The token's "alg" must be the key's own and its "kid" this
// key's (RFC 8725 §3.1: never let the token choose the algorithm). It
// checks the signature only: exp, iss, aud and typ are the caller's.
func (v *Verifier) Verify(token string) ([]byte, error) {
	jws, err := parse(token)
	if err != nil {
		return nil, err
	}
	if kid := jws.Signatures[0].Header.KeyID; kid != v.kid {
		return nil, fmt.Errorf("%w: kid %q, want %q", ErrInvalidToken, kid, v.kid)
	}
	return v.verify(jws)
}

func (v *Verifier) verify(jws *jose.JSONWebSignature) ([]byte, error) {
	if alg := jws.Signatures[0].Header.Algorithm; alg != string(v.alg) {
		return nil, fmt.Errorf("%w: alg %q, but key %s is %s", ErrInvalidToken, alg, v.kid, v.alg)
	}
	payload, err := jws.Verify(v.pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	return payload, nil
}

// parse reads a compact JWS (RFC 7515 §7.1) with exactly one signature
// whose alg is one Gatehouse signs with.
func parse(token string) (*jose.JSONWebSignature, error) {
	if len(token) > maxTokenSize {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, maxTokenSize)
	}
	jws, err := jose.ParseSignedCompact(token, algs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: %d signatures", ErrInvalidToken, len(jws.Signatures))
	}
	return jws, nil
}

package jwks

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/sealing"
)

// KeySource lists the signing keys that are not removed, as
// projections.ListKeys does over the read models.
type KeySource interface {
	ListKeys(ctx context.Context) ([]projections.Key, error)
}

// KeySourceFunc adapts a function to KeySource.
type KeySourceFunc func(ctx context.Context) ([]projections.Key, error)

// ListKeys implements KeySource.
func (f KeySourceFunc) ListKeys(ctx context.Context) ([]projections.Key, error) { return f(ctx) }

// FromReader is the KeySource of a projection store.
func FromReader(r projections.Reader) KeySource {
	return KeySourceFunc(func(ctx context.Context) ([]projections.Key, error) { return projections.ListKeys(ctx, r) })
}

// Keyring holds the decrypted signing keys in memory. Refresh reloads it
// from its KeySource; everything else reads an immutable snapshot through
// an atomic pointer, so signing, verifying and serving the JWKS take no
// lock, decrypt nothing and encode no key set per call.
type Keyring struct {
	sealer  *sealing.Sealer
	src     KeySource
	primary string     // Config.Alg: the family Active signs with
	mu      sync.Mutex // serializes Refresh; never held by readers
	snap    atomic.Pointer[snapshot]
}

// KeyringOption configures a Keyring.
type KeyringOption func(*Keyring)

// WithPrimary names the primary algorithm (the Rotator's Config.Alg),
// whose family's active key Active returns. Default ES256.
func WithPrimary(alg string) KeyringOption { return func(k *Keyring) { k.primary = alg } }

// NewKeyring returns an empty keyring over src, opening private keys
// with s (the sealing.SigningKey purpose); call Refresh to load it.
func NewKeyring(s *sealing.Sealer, src KeySource, opts ...KeyringOption) (*Keyring, error) {
	if err := checkSealer(s); err != nil {
		return nil, err
	}
	k := &Keyring{sealer: s, src: src, primary: ES256}
	for _, o := range opts {
		o(k)
	}
	empty, err := newSnapshot("", nil, nil)
	if err != nil {
		return nil, err
	}
	k.snap.Store(empty)
	return k, nil
}

// snapshot is one immutable state of the keyring.
type snapshot struct {
	fingerprint string               // kid:state:version of every key, in order
	keys        map[string]*material // published keys by kid
	active      map[string]*Signer   // each family's active key, by alg
	latest      *Signer              // the key activated last
	jwks        []byte               // the JWK Set (RFC 7517 §5), encoded once
	etag        string
}

// material is a decrypted key. It never changes for a kid, so snapshots
// share it: a key is decrypted once per process, not once per refresh.
type material struct {
	signer   *Signer
	verifier *Verifier
	public   jose.JSONWebKey
}

// Refresh reloads the keys from the source. When no key changed since the
// last Refresh it only lists them; otherwise it decrypts the keys it has
// not seen, encodes the JWK Set once and swaps the snapshot in. On error
// the keyring keeps serving the previous snapshot.
func (k *Keyring) Refresh(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	keys, err := k.src.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("jwks: list keys: %w", err)
	}
	cur := k.snap.Load()
	fp := fingerprint(keys)
	if fp == cur.fingerprint {
		return nil
	}
	next, err := k.build(fp, keys, cur)
	if err != nil {
		return err
	}
	k.snap.Store(next)
	return nil
}

func fingerprint(keys []projections.Key) string {
	var b strings.Builder
	for _, key := range keys {
		b.WriteString(key.KID + ":" + string(key.State) + ":" + strconv.FormatUint(key.Version, 10) + ";")
	}
	return b.String()
}

// build decrypts the keys cur does not hold and makes the new snapshot.
func (k *Keyring) build(fp string, keys []projections.Key, cur *snapshot) (*snapshot, error) {
	mats := make(map[string]*material, len(keys))
	for _, key := range keys {
		m, ok := cur.keys[key.KID]
		if !ok || string(m.signer.alg) != key.Alg {
			var err error
			if m, err = k.open(key); err != nil {
				return nil, err
			}
		}
		mats[key.KID] = m
	}
	return newSnapshot(fp, keys, mats)
}

// open decrypts key and checks it against its published public JWK.
func (k *Keyring) open(key projections.Key) (*material, error) {
	priv, err := Open(k.sealer, key.KID, key.PrivateKeyEnc)
	if err != nil {
		return nil, err
	}
	if err := checkAlg(key.Alg, priv); err != nil {
		return nil, fmt.Errorf("jwks: key %s: %w", key.KID, err)
	}
	pub := publicJWK(key.KID, key.Alg, priv)
	if err := samePublicKey(pub, key.PublicJWK); err != nil {
		return nil, fmt.Errorf("jwks: key %s: %w", key.KID, err)
	}
	return &material{
		signer:   newSigner(key.KID, key.Alg, priv),
		verifier: &Verifier{kid: key.KID, alg: jose.SignatureAlgorithm(key.Alg), pub: priv.Public()},
		public:   pub,
	}, nil
}

// samePublicKey reports whether published is the JWK of pub, by RFC 7638
// thumbprint: the event's public_jwk must be the sealed key's.
func samePublicKey(pub jose.JSONWebKey, published json.RawMessage) error {
	var got jose.JSONWebKey
	if err := got.UnmarshalJSON(published); err != nil {
		return fmt.Errorf("public_jwk: %w", err)
	}
	a, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return err
	}
	b, err := got.Thumbprint(crypto.SHA256)
	if err != nil || !bytes.Equal(a, b) {
		return fmt.Errorf("public_jwk is not the public half of the sealed key")
	}
	return nil
}

// newSnapshot picks each family's active key and encodes the JWK Set:
// every key of keys (next, active, retired), public members only, oldest
// first.
func newSnapshot(fp string, keys []projections.Key, mats map[string]*material) (*snapshot, error) {
	s := &snapshot{fingerprint: fp, keys: mats, active: map[string]*Signer{}}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	activeAt := map[string]time.Time{}
	var latestAt time.Time
	for _, key := range keys {
		set.Keys = append(set.Keys, mats[key.KID].public)
		if key.State != projections.KeyActive {
			continue
		}
		// Exactly one key of a family is active; should a lagging read
		// show two, the one activated last signs.
		if at, ok := activeAt[key.Alg]; !ok || !key.ActivatedAt.Before(at) {
			s.active[key.Alg], activeAt[key.Alg] = mats[key.KID].signer, key.ActivatedAt
		}
		if s.latest == nil || !key.ActivatedAt.Before(latestAt) {
			s.latest, latestAt = mats[key.KID].signer, key.ActivatedAt
		}
	}
	body, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("jwks: encode key set: %w", err)
	}
	sum := sha256.Sum256(body)
	s.jwks, s.etag = body, `"`+base64.RawURLEncoding.EncodeToString(sum[:16])+`"`
	return s, nil
}

// Active returns the key that signs access tokens now: the primary
// family's active key or, while that family has none (an algorithm new
// to the log, its first key still in its publish window), the key
// activated last. ErrNoActiveKey when no key is active.
func (k *Keyring) Active() (*Signer, error) {
	return k.snap.Load().signer(k.primary)
}

// ActiveFor returns the key that signs for algorithm alg now (an ID
// token's, OIDC Registration §2 id_token_signed_response_alg): the active
// key of alg's family or, while that family has none (its first key still
// in its publish window: no client could verify it yet), Active's key.
// The signer's Alg says which it is; the token's alg header says it too.
func (k *Keyring) ActiveFor(alg string) (*Signer, error) {
	s := k.snap.Load()
	if a, ok := s.active[alg]; ok {
		return a, nil
	}
	return s.signer(k.primary)
}

func (s *snapshot) signer(primary string) (*Signer, error) {
	if a, ok := s.active[primary]; ok {
		return a, nil
	}
	if s.latest != nil {
		return s.latest, nil
	}
	return nil, ErrNoActiveKey
}

// Sign signs claims with the active key; see Signer.Sign.
func (k *Keyring) Sign(claims any, typ string) (string, error) {
	s, err := k.Active()
	if err != nil {
		return "", err
	}
	return s.Sign(claims, typ)
}

// Verifier returns the published key (next, active or retired) kid, or
// ErrUnknownKey.
func (k *Keyring) Verifier(kid string) (*Verifier, error) {
	if m, ok := k.snap.Load().keys[kid]; ok {
		return m.verifier, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
}

// Verify checks a compact JWS signed by one of the published keys, chosen
// by the token's kid, with that key's own algorithm (RFC 8725 §3.1), and
// returns its payload and kid. It checks the signature only; the claims
// (exp, iss, aud) and typ (RFC 9068 §4) are the caller's to validate.
func (k *Keyring) Verify(token string) (claims []byte, kid string, err error) {
	return k.VerifyType(token, "")
}

// VerifyType is Verify for a token whose JOSE header typ must be typ
// ("at+jwt" for access tokens, RFC 9068 §4; explicit typing, RFC 8725
// §3.11), compared without case and with or without "application/". An
// empty typ accepts any.
func (k *Keyring) VerifyType(token, typ string) (claims []byte, kid string, err error) {
	jws, err := parse(token)
	if err != nil {
		return nil, "", err
	}
	h := jws.Signatures[0].Header
	if typ != "" {
		got, _ := h.ExtraHeaders[jose.HeaderType].(string)
		if !strings.EqualFold(strings.TrimPrefix(strings.ToLower(got), "application/"), typ) {
			return nil, h.KeyID, fmt.Errorf("%w: typ %q, want %q", ErrInvalidToken, got, typ)
		}
	}
	v, err := k.Verifier(h.KeyID)
	if err != nil {
		return nil, h.KeyID, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	claims, err = v.verify(jws)
	return claims, h.KeyID, err
}

// PublicJWKS returns the JWK Set to serve at /.well-known/jwks.json (RFC
// 7517 §5) and its strong ETag. The bytes are shared: callers must not
// modify them.
func (k *Keyring) PublicJWKS() (body []byte, etag string) {
	s := k.snap.Load()
	return s.jwks, s.etag
}

// Published reports whether kid is one of the published keys (next,
// active or retired): what a cache of tokens verified before checks, so a
// key that leaves the set takes its tokens with it.
func (k *Keyring) Published(kid string) bool {
	_, ok := k.snap.Load().keys[kid]
	return ok
}

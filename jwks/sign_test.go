package jwks

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
)

type testClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Exp int64  `json:"exp"`
}

var claims = testClaims{Iss: "https://gatehouse.test", Sub: "app_1", Exp: t0.Unix() + 3600}

// ringOf returns a keyring holding a fresh key set (active + next) of alg.
func ringOf(t testing.TB, alg string) (*Keyring, *keyStore) {
	t.Helper()
	master := masterKey(t)
	d := genesis(t, master, alg)
	return newRing(t, master, d.source()), d
}

// header decodes the protected header of a compact JWS.
func header(t *testing.T, token string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatalf("header of %q: %v", token, err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSignVerify(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			ring, _ := ringOf(t, alg)
			active, err := ring.Active()
			if err != nil {
				t.Fatalf("Active: %v", err)
			}
			token, err := ring.Sign(claims, "at+jwt")
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			h := header(t, token)
			want := map[string]any{"alg": alg, "kid": active.KID(), "typ": "at+jwt"}
			if len(h) != len(want) || h["alg"] != want["alg"] || h["kid"] != want["kid"] || h["typ"] != want["typ"] {
				t.Fatalf("header = %v, want %v", h, want)
			}
			payload, kid, err := ring.Verify(token)
			if err != nil || kid != active.KID() {
				t.Fatalf("Verify = %s, %q, %v; want kid %q", payload, kid, err, active.KID())
			}
			var got testClaims
			if err := json.Unmarshal(payload, &got); err != nil || got != claims {
				t.Fatalf("claims = %+v (%v), want %+v", got, err, claims)
			}
			v, err := ring.Verifier(kid)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(token); err != nil {
				t.Fatalf("Verifier(%s).Verify: %v", kid, err)
			}
		})
	}
}

// TestVerifyAsAClient checks tokens the way a resource server would: with
// go-oidc fetching the JWKS over HTTP, and with plain go-jose parsing the
// published JSON.
func TestVerifyAsAClient(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			ring, _ := ringOf(t, alg)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, etag := ring.PublicJWKS()
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("ETag", etag)
				_, _ = w.Write(body)
			}))
			defer srv.Close()
			token, err := ring.Sign(claims, "at+jwt")
			if err != nil {
				t.Fatal(err)
			}
			payload, err := oidc.NewRemoteKeySet(t.Context(), srv.URL).VerifySignature(t.Context(), token)
			if err != nil {
				t.Fatalf("go-oidc VerifySignature: %v", err)
			}
			if !strings.Contains(string(payload), `"sub":"app_1"`) {
				t.Fatalf("go-oidc payload = %s", payload)
			}
			verifyWithJose(t, ring, token, alg)
		})
	}
}

func verifyWithJose(t *testing.T, ring *Keyring, token, alg string) {
	t.Helper()
	body, _ := ring.PublicJWKS()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 || keys[0].Algorithm != alg || keys[0].Use != "sig" || !keys[0].IsPublic() {
		t.Fatalf("JWKS keys for the token's kid = %+v", keys)
	}
	if _, err := jws.Verify(keys[0]); err != nil {
		t.Fatalf("go-jose Verify against the JWKS: %v", err)
	}
}

// TestJWKSHasNoPrivateMembers: RFC 7518 §6.2.2 (EC "d"), §6.3.2 (RSA "d",
// "p", "q", "dp", "dq", "qi", "oth") and RFC 8037 §2 (OKP "d") are private
// members; none may be published.
func TestJWKSHasNoPrivateMembers(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			ring, d := ringOf(t, alg)
			body, etag := ring.PublicJWKS()
			var set struct{ Keys []map[string]any }
			if err := json.Unmarshal(body, &set); err != nil {
				t.Fatal(err)
			}
			if len(set.Keys) != 2 || etag == "" {
				t.Fatalf("JWKS has %d keys, etag %q; want the active and the next key", len(set.Keys), etag)
			}
			for _, k := range set.Keys {
				for _, m := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
					if _, ok := k[m]; ok {
						t.Errorf("published key %v has private member %q", k["kid"], m)
					}
				}
				if k["alg"] != alg || k["use"] != "sig" || k["kid"] == "" {
					t.Errorf("published key %v: want alg %s, use sig, a kid", k, alg)
				}
			}
			for _, key := range d.keys() {
				if strings.Contains(string(body), key.PrivateKeyEnc) {
					t.Error("the JWKS holds a sealed private key")
				}
			}
		})
	}
}

// forge signs header and payload as a compact JWS with sign (nil: no
// signature, as for alg "none").
func forge(header, payload string, sign func(input []byte) []byte) string {
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	if sign == nil {
		return in + "."
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(in)))
}

func joseSign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid, payload string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestAlgorithmConfusionRejected: the key's algorithm decides, never the
// token's header alone (RFC 8725 §2.1, §3.1).
func TestAlgorithmConfusionRejected(t *testing.T) {
	ring, _ := ringOf(t, ES256)
	active, _ := ring.Active()
	kid := active.KID()
	v, _ := ring.Verifier(kid)
	pubDER, _ := x509.MarshalPKIXPublicKey(v.PublicKey())
	rsaKey, _ := Generate(RS256, 0)
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edKey, _ := Generate(EdDSA, 0)
	payload := `{"sub":"attacker"}`
	for name, token := range map[string]string{
		"alg none":                    forge(`{"alg":"none","kid":"`+kid+`"}`, payload, nil),
		"alg none, empty kid":         forge(`{"alg":"none"}`, payload, nil),
		"HS256 keyed with the public": joseSign(t, jose.HS256, pubDER, kid, payload),
		"RS256 header on an EC kid":   joseSign(t, jose.RS256, rsaKey, kid, payload),
		"EdDSA header on an EC kid":   joseSign(t, jose.EdDSA, edKey, kid, payload),
		"ES256 by another key":        joseSign(t, jose.ES256, otherEC, kid, payload),
		"unknown kid":                 joseSign(t, jose.ES256, otherEC, "key_nobody", payload),
		"no kid":                      joseSign(t, jose.ES256, otherEC, "", payload),
		"JSON serialization":          `{"payload":"e30","protected":"eyJhbGciOiJFUzI1NiJ9","signature":"AA"}`,
		"too long":                    strings.Repeat("a", maxTokenSize+1),
		"garbage":                     "a.b.c",
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := ring.Verify(token); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Keyring.Verify = %v, want ErrInvalidToken", err)
			}
			if _, err := v.Verify(token); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Verifier.Verify = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestVerifierRejectsAnotherKeysToken(t *testing.T) {
	ring, d := ringOf(t, EdDSA)
	token, _ := ring.Sign(claims, "at+jwt")
	active, _ := ring.Active()
	for _, k := range d.keys() {
		if k.KID == active.KID() {
			continue
		}
		v, err := ring.Verifier(k.KID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(token); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("next key's Verifier accepted the active key's token: %v", err)
		}
	}
}

func TestEmptyKeyring(t *testing.T) {
	ring := newRing(t, masterKey(t), newKeyStore(t).source())
	if _, err := ring.Sign(claims, "at+jwt"); !errors.Is(err, ErrNoActiveKey) {
		t.Fatalf("Sign = %v, want ErrNoActiveKey", err)
	}
	if _, err := ring.Verifier("key_x"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Verifier = %v, want ErrUnknownKey", err)
	}
	if body, _ := ring.PublicJWKS(); string(body) != `{"keys":[]}` {
		t.Fatalf("JWKS = %s", body)
	}
}

func TestSignTypAndRawClaims(t *testing.T) {
	ring, _ := ringOf(t, ES256)
	for _, typ := range []string{"at+jwt", "JWT", ""} {
		token, err := ring.Sign(json.RawMessage(`{"a":1}`), typ)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := header(t, token)["typ"].(string); got != typ {
			t.Errorf("typ = %q, want %q", got, typ)
		}
		if payload, _, err := ring.Verify(token); err != nil || string(payload) != `{"a":1}` {
			t.Errorf("Verify = %s, %v", payload, err)
		}
	}
	if _, err := ring.Sign(func() {}, "JWT"); err == nil {
		t.Error("Sign accepted claims that do not encode")
	}
}

// TestConcurrentSignVerifyRefresh signs and verifies from many goroutines
// while the key set rotates under them; the race detector checks the
// snapshot swap, and every token must verify (a retired key stays). The
// rotations must happen: the active key changes, and after each refresh
// the signers are seen signing with the key then active.
func TestConcurrentSignVerifyRefresh(t *testing.T) {
	master := masterKey(t)
	d := genesis(t, master, ES256)
	ring := newRing(t, master, d.source())
	// Retired keys outlive the test: a token signed a moment before a
	// refresh must still verify after it.
	cfg := Config{MaxTokenTTL: 365 * 24 * time.Hour}.withDefaults()
	stop := make(chan struct{})
	var signedWith sync.Map // kid → true, of the tokens the goroutines verified
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { signAndVerify(t, ring, stop, &signedWith) })
	}
	actives := map[string]bool{}
	now := t0
	for range 5 {
		now = now.Add(cfg.RotationPeriod)
		for _, a := range plan(now, d.keys(), cfg) {
			app, _, err := build(now, a, cfg, master)
			if err != nil {
				t.Error(err)
			}
			d.apply(app.Events...)
		}
		if err := ring.Refresh(t.Context()); err != nil {
			t.Error(err)
		}
		active, err := ring.Active()
		if err != nil {
			t.Fatal(err)
		}
		actives[active.KID()] = true
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			if _, ok := signedWith.Load(active.KID()); ok {
				break
			}
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("no token verified with the active key %s 10 s after the refresh", active.KID())
			}
		}
	}
	close(stop)
	wg.Wait()
	if len(actives) < 3 {
		t.Errorf("%d keys were active over 5 rotation periods (%v), want the key set to rotate", len(actives), actives)
	}
}

func signAndVerify(t *testing.T, ring *Keyring, stop chan struct{}, signedWith *sync.Map) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		token, err := ring.Sign(claims, "at+jwt")
		if err != nil {
			t.Errorf("Sign: %v", err)
			return
		}
		_, kid, err := ring.Verify(token)
		if err != nil {
			t.Errorf("Verify: %v", err)
			return
		}
		signedWith.Store(kid, true)
	}
}

// TestDirectSignMatchesGoJose: for every algorithm, the direct path
// (signCompact) writes the protected header go-jose writes, byte for byte,
// and its tokens verify with go-jose against the public key.
func TestDirectSignMatchesGoJose(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			ring, _ := ringOf(t, alg)
			s, err := ring.Active()
			if err != nil {
				t.Fatal(err)
			}
			if !s.direct {
				t.Fatalf("%s keys do not take the direct path", alg)
			}
			for _, typ := range []string{"at+jwt", "JWT", ""} {
				direct, err := s.Sign(claims, typ)
				if err != nil {
					t.Fatal(err)
				}
				js, err := s.joseSigner(typ)
				if err != nil {
					t.Fatal(err)
				}
				payload, _ := json.Marshal(claims)
				obj, err := js.Sign(payload)
				if err != nil {
					t.Fatal(err)
				}
				viaJose, err := obj.CompactSerialize()
				if err != nil {
					t.Fatal(err)
				}
				d, j := strings.Split(direct, "."), strings.Split(viaJose, ".")
				if len(d) != 3 || d[0] != j[0] || d[1] != j[1] {
					t.Fatalf("typ %q: direct %s.%s, go-jose %s.%s", typ, d[0], d[1], j[0], j[1])
				}
				parsed, err := jose.ParseSignedCompact(direct, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
				if err != nil {
					t.Fatal(err)
				}
				got, err := parsed.Verify(s.priv.Public())
				if err != nil || string(got) != string(payload) {
					t.Fatalf("typ %q: go-jose verifies the direct token as %s, %v", typ, got, err)
				}
			}
		})
	}
}

// TestFixedRS: the 64 octets of a signature taken from its DER are R and
// S as big integers would write them (FillBytes), short ones left-padded
// (about 1 in 128 signatures has an R or S under 32 octets), and they
// verify; anything but a SEQUENCE of two non-negative INTEGERs of at most
// 32 octets is refused.
func TestFixedRS(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	short := 0
	for i := range 3000 {
		digest := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		der, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		var got [64]byte
		if !fixedRS(der, &got) {
			t.Fatalf("FixedRS refused %x", der)
		}
		var parsed struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &parsed); err != nil {
			t.Fatal(err)
		}
		var want [64]byte
		parsed.R.FillBytes(want[:32])
		parsed.S.FillBytes(want[32:])
		if got != want {
			t.Fatalf("FixedRS(%x) = %x, want %x", der, got, want)
		}
		r, s := new(big.Int).SetBytes(got[:32]), new(big.Int).SetBytes(got[32:])
		if !ecdsa.Verify(&priv.PublicKey, digest[:], r, s) {
			t.Fatalf("%x does not verify", got)
		}
		if parsed.R.BitLen() <= 248 || parsed.S.BitLen() <= 248 {
			short++
		}
	}
	if short == 0 {
		t.Log("no short R or S in 3000 signatures")
	}
	var rs [64]byte
	big33 := append([]byte{0x02, 0x21, 0x01}, make([]byte, 32)...)
	for _, der := range [][]byte{nil, {0x30, 0x00}, {0x30, 0x03, 0x02, 0x01, 0x01},
		{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0xff},                               // negative S
		append([]byte{0x30, byte(len(big33) + 3)}, append(big33, 0x02, 0x01, 0x01)...), // R of 33 octets
		{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00}} {                       // trailing byte
		if fixedRS(der, &rs) {
			t.Errorf("FixedRS accepted %x", der)
		}
	}
}

package oauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/jwks"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/sealing"
)

const fuzzIssuer = "https://gh.example"

// fuzzKeyring returns a keyring holding one active ES256 key, kid "k1".
func fuzzKeyring(t testing.TB, master *sealing.Keys) *jwks.Keyring {
	t.Helper()
	priv, err := jwks.Generate("ES256", 0)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := jwks.PublicJWK("k1", "ES256", priv)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := jwks.Seal(master.Purpose(sealing.SigningKey), "k1", priv)
	if err != nil {
		t.Fatal(err)
	}
	key := projections.Key{KeyCreated: events.KeyCreated{KID: "k1", Alg: "ES256", PublicJWK: pub, PrivateKeyEnc: sealed}, State: projections.KeyActive, Version: 1}
	ring, err := jwks.NewKeyring(master.Purpose(sealing.SigningKey), jwks.KeySourceFunc(func(context.Context) ([]projections.Key, error) {
		return []projections.Key{key}, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := ring.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ring
}

func fuzzMaster(b byte) *sealing.Keys {
	k, err := sealing.New(bytes.Repeat([]byte{b}, sealing.MasterKeySize))
	if err != nil {
		panic(err)
	}
	return k
}

// fuzzClaims are the claims of the one legitimate token of the targets.
func fuzzClaims(now time.Time, scope string) AccessClaims {
	return AccessClaims{Issuer: fuzzIssuer, Subject: "cl_fuzz", Audience: []string{fuzzIssuer}, ClientID: "cl_fuzz",
		Scope: scope, JTI: "jti-fuzz", IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix(), Tenant: "default"}
}

// FuzzAccessToken: the verifier of bearer tokens (parse, signature,
// claims) never panics and never accepts a token whose claims are not
// those the server signed: a mutated token, one signed by another key
// under the same kid, or one with alg none are refused.
func FuzzAccessToken(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	ring := fuzzKeyring(f, fuzzMaster(1))
	forger := fuzzKeyring(f, fuzzMaster(2))
	good, err := ring.Sign(fuzzClaims(now, "platform:apps:read"), "at+jwt")
	if err != nil {
		f.Fatal(err)
	}
	forged, err := forger.Sign(fuzzClaims(now, "system:keys:write"), "at+jwt")
	if err != nil {
		f.Fatal(err)
	}
	h, p, _ := strings.Cut(good, ".")
	f.Add(good)
	f.Add(forged)
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"k1"}`)) + "." + strings.Split(p, ".")[0] + ".")
	f.Add(h + ".e30." + strings.Split(good, ".")[2])
	f.Add("a.b.c")
	f.Add("")
	v := newAccessVerifier(ring, fuzzIssuer, func() time.Time { return now })
	want := fuzzClaims(now, "platform:apps:read")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.VerifyAccessToken(token)
		if err != nil {
			if !isInactive(err) {
				t.Fatalf("%q: error %v is not one of the token errors", token, err)
			}
			return
		}
		if !reflect.DeepEqual(c, want) {
			t.Fatalf("accepted %q with claims %+v, not the signed ones", token, c)
		}
	})
}

// fuzzOAuth returns the OAuth endpoints over a memory store holding one
// active confidential app (client cl_fuzz, secret fuzzSecret) of tenant
// default, and a valid access token of it.
func fuzzOAuth(t testing.TB, now time.Time) (*Server, string) {
	t.Helper()
	master := fuzzMaster(1)
	ring := fuzzKeyring(t, master)
	store := memory.New()
	hasher, err := NewSecretHasher(master)
	if err != nil {
		t.Fatal(err)
	}
	ev := events.MustNew(events.Ref{Tenant: "default", Type: events.AggApp, ID: "app_fuzz"}, events.Actor{Kind: events.ActorSystem, ID: "fuzz"}, now,
		&events.AppCreated{AppSettings: events.AppSettings{ClientID: "cl_fuzz", Name: "fuzz", GrantTypes: []string{"client_credentials"},
			TokenEndpointAuthMethod: "client_secret_basic", Active: true, AccessTokenTTLSeconds: 3600},
			Scopes:   []events.ScopeGrant{{Scope: "platform:apps:read", Status: "approved"}},
			SecretID: "sec_fuzz", SecretHash: hasher.HashString(fuzzSecret)})
	ev.Stream, ev.Seq = events.Control, 1
	if err := store.Update(context.Background(), ev.Stream, ev.Seq, func(tx projections.Tx) error { return projections.Apply(tx, ev) }); err != nil {
		t.Fatal(err)
	}
	o, err := New(Config{Issuer: fuzzIssuer, AccessTokenTTL: time.Hour, Master: master, Store: store,
		CatchUp: func(context.Context) error { return nil }, Signer: ring, Keys: ring, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ring.Sign(fuzzClaims(now, "platform:apps:read"), "at+jwt")
	if err != nil {
		t.Fatal(err)
	}
	return o, tok
}

const fuzzSecret = "ghcs_fuzz-secret-0123456789"

// FuzzClientAuthentication: the client authentication of introspection
// and revocation (form parsing, HTTP Basic, client_secret_post, client
// assertions, bearer tokens) never panics, and authenticates only a
// request that proves the one app's secret or carries its valid token.
func FuzzClientAuthentication(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	o, tok := fuzzOAuth(f, now)
	basic := func(u, p string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(u)+":"+url.QueryEscape(p)))
	}
	for _, s := range [][2]string{
		{basic("cl_fuzz", fuzzSecret), "token=x"},
		{basic("cl_fuzz", "wrong"), "token=x"},
		{basic("nobody", fuzzSecret), "token=x"},
		{"", "client_id=cl_fuzz&client_secret=" + fuzzSecret + "&token=x"},
		{"", "client_id=cl_fuzz&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" + tok + "&token=x"},
		{"Bearer " + tok, "token=x"},
		{"bearer  " + tok + " ", "token=x"},
		{"Basic !!!", "token=x"},
		{basic("cl_fuzz", fuzzSecret), "%zz"},
		{"", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, authorization, body string) {
		r := httptest.NewRequest(http.MethodPost, "/v1/oauth/introspect", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		if err := parseOAuthForm(r); err != nil {
			return
		}
		tenant, clientID, _, err := o.caller(context.Background(), r)
		if err != nil {
			if fosite.ErrorToRFC6749Error(err).CodeField/100 != 4 {
				t.Fatalf("%q %q: %v is not a 4xx OAuth error", authorization, body, err)
			}
			return
		}
		if tenant != "default" || clientID != "cl_fuzz" {
			t.Fatalf("authenticated as %s/%s", tenant, clientID)
		}
		if bt, ok := bearer(r); ok && bt == tok {
			return
		}
		user, pass, _ := r.BasicAuth()
		if pu, _ := url.QueryUnescape(pass); pu == fuzzSecret || pass == fuzzSecret || r.PostForm.Get("client_secret") == fuzzSecret {
			_ = user
			return
		}
		t.Fatalf("%q %q authenticated without the secret or the token", authorization, body)
	})
}

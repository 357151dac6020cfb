package authz

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/jwks"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/sealing"
)

// Fuzz targets of every parser of outside input in this package (issue 12,
// point 10). `go test` runs their seeds; `make fuzz` explores.

// bindSeeds are request bodies of the tests and of README examples.
var bindSeeds = []string{
	`{"name":"a","n":2,"tags":["t"],"inner":{"x":3},"meta":{"k":1}}`,
	`{"name":"Billing sync","requested_scopes":["webhooks:read"],"token_endpoint_auth_method":"client_secret_post","metadata":{"team":"billing"}}`,
	`{"name":"coded","grant_types":["authorization_code"],"redirect_uris":["https://app.example.com/cb"]}`,
	`{"url":"https://hooks.example.com/x","events":["case.updated"],"description":"line 1\nline 2"}`,
	`{"type":"case.updated","data":{"id":"c1","nested":{"a":[1,2,{"b":null}]}},"id":"dedupe-1"}`,
	`{"scope":"cases:read","decision":"approve","reason":"reviewed"}`,
	`{"name":"a","name":"b"}`, `{"Name":"a"}`, `{"metadata":{"k":1,"k":2}}`, `{"name":"a\u0000b"}`,
	`{"name":"evil\u202egnp"}`, `{"name":"a\ud800"}`, "{\"name\":\"a\xffb\"}", `{"description":"a\r\nb"}`,
	`{"redirect_uris":["https://a/1","https://a/2"]}`, `{"metadata":[[[[[[[[[[]]]]]]]]]]}`, `{"name":"x"} {}`, `[1]`, ``,
}

// bindTargets are request types of the API, one of each kind of field.
func bindTargets() []any {
	return []any{&createAppRequest{}, &patchAppRequest{}, &webhookRequest{}, &publishRequest{}, &scopeDecisionBody{}, &scopeRequest{}}
}

// FuzzBindJSON: httpapi.DecodeJSON never panics, refuses with a 400 problem, and
// what it accepts is valid UTF-8 JSON without a duplicate key, whose
// interpreted strings hold no control or format character, and which
// encodes back to a body it accepts again as the same value.
func FuzzBindJSON(f *testing.F) {
	for _, s := range bindSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range bindTargets() {
			err := httpapi.DecodeJSON(body, v)
			if err != nil {
				var p *httpapi.Problem
				if !errors.As(err, &p) || p.Status != http.StatusBadRequest {
					t.Fatalf("%T: %q: error %v, want a 400 problem", v, body, err)
				}
				continue
			}
			if !utf8.Valid(body) || !json.Valid(body) {
				t.Fatalf("%T accepted invalid UTF-8 or JSON: %q", v, body)
			}
			if duplicateKeys(t, body) {
				t.Fatalf("%T accepted a duplicate key: %q", v, body)
			}
			checkInterpretedText(t, reflect.ValueOf(v).Elem(), body)
			enc, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%T: re-encode: %v", v, err)
			}
			again := reflect.New(reflect.TypeOf(v).Elem()).Interface()
			if err := httpapi.DecodeJSON(enc, again); err != nil {
				t.Fatalf("%T: %q accepted, its re-encoding %s refused: %v", v, body, enc, err)
			}
			if enc2, _ := json.Marshal(again); !bytes.Equal(enc, enc2) {
				t.Fatalf("%T: round trip changed %s into %s", v, enc, enc2)
			}
		}
	})
}

// duplicateKeys reports whether an object of the (valid) JSON document
// has a key twice: the keys the token stream shows outnumber those the
// decoded maps hold.
func duplicateKeys(t *testing.T, body []byte) bool {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var stack []bool // object?
	var expectKey []bool
	keys := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		top := len(stack) - 1
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if top >= 0 && stack[top] {
					expectKey[top] = true
				}
				stack, expectKey = append(stack, d == '{'), append(expectKey, true)
			default:
				stack, expectKey = stack[:top], expectKey[:top]
			}
			continue
		}
		if top >= 0 && stack[top] {
			if expectKey[top] {
				keys++
			}
			expectKey[top] = !expectKey[top]
		}
	}
	return keys != countKeys(v)
}

func countKeys(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		n += len(v)
		for _, x := range v {
			n += countKeys(x)
		}
	case []any:
		for _, x := range v {
			n += countKeys(x)
		}
	}
	return n
}

// checkInterpretedText fails when a string field of v (a request struct)
// holds a control or format character that its rule forbids.
func checkInterpretedText(t *testing.T, v reflect.Value, body []byte) {
	st := v.Type()
	for i := range st.NumField() {
		fv, multi := v.Field(i), st.Field(i).Tag.Get("text") == "multiline"
		for fv.Kind() == reflect.Pointer && !fv.IsNil() {
			fv = fv.Elem()
		}
		var strs []string
		switch {
		case fv.Kind() == reflect.String:
			strs = []string{fv.String()}
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
			strs = fv.Interface().([]string)
		}
		for _, s := range strs {
			for _, r := range s {
				if multi && (r == '\n' || r == '\t') {
					continue
				}
				if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
					t.Fatalf("%s accepted with %U in %s", body, r, st.Field(i).Name)
				}
			}
		}
	}
}

// fuzzIssuer is the issuer of the tokens of the fuzz targets.
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
	key := projections.Key{KID: "k1", Alg: "ES256", State: projections.KeyActive, PublicJWK: pub, PrivateKeyEnc: sealed, Version: 1}
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
func fuzzOAuth(t testing.TB, now time.Time) (*OAuth, string) {
	t.Helper()
	master := fuzzMaster(1)
	ring := fuzzKeyring(t, master)
	store := memory.New()
	hasher, err := NewSecretHasher(master)
	if err != nil {
		t.Fatal(err)
	}
	ev := events.MustNew(events.Ref{Tenant: "default", Type: events.AggApp, ID: "app_fuzz"}, events.Actor{Kind: events.ActorSystem, ID: "fuzz"}, now,
		&events.AppCreated{ClientID: "cl_fuzz", Name: "fuzz", GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "client_secret_basic",
			Active: true, AccessTokenTTLSeconds: 3600, Scopes: []events.ScopeGrant{{Scope: "platform:apps:read", Status: "approved"}},
			SecretID: "sec_fuzz", SecretHash: hasher.HashString(fuzzSecret)})
	ev.Stream, ev.Seq = events.Control, 1
	if err := store.Update(context.Background(), ev.Stream, ev.Seq, func(tx projections.Tx) error { return projections.Apply(tx, ev) }); err != nil {
		t.Fatal(err)
	}
	o, err := NewOAuth(OAuthConfig{Issuer: fuzzIssuer, AccessTokenTTL: time.Hour, Master: master, Store: store,
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
		tenant, clientID, err := o.caller(context.Background(), r)
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

// FuzzCatalogCursor: a catalog cursor is accepted only when it is one the
// list could have returned, and decodes to the position it encodes.
func FuzzCatalogCursor(f *testing.F) {
	for _, s := range []string{"", catalogCursor("b0"), catalogCursor("b8"), catalogCursor("t" + projections.EncodeCursor("s", "id")), catalogCursor("b-1"), catalogCursor("b01"), "!!", catalogCursor("x")} {
		f.Add(s, 9)
	}
	f.Fuzz(func(t *testing.T, cursor string, builtins int) {
		if builtins < 0 || builtins > 1000 {
			return
		}
		start, after, ok := parseCatalogCursor(cursor, builtins)
		if !ok {
			return
		}
		switch {
		case cursor == "":
			if start != 0 || after != "" {
				t.Fatalf("empty cursor: %d %q", start, after)
			}
		case start < builtins:
			if after != "" || parseAgain(t, catalogCursor("b"+strconv.Itoa(start)), builtins) != start {
				t.Fatalf("%q: start %d of %d", cursor, start, builtins)
			}
		case start == builtins:
			if s, a, ok := parseCatalogCursor(catalogCursor("t"+after), builtins); !ok || s != builtins || a != after {
				t.Fatalf("%q: tenant cursor %q does not round-trip", cursor, after)
			}
		default:
			t.Fatalf("%q: start %d beyond %d built-ins", cursor, start, builtins)
		}
	})
}

func parseAgain(t *testing.T, c string, builtins int) int {
	s, _, ok := parseCatalogCursor(c, builtins)
	if !ok {
		t.Fatalf("%q refused", c)
	}
	return s
}

// FuzzFeedQuery: the event feed's query (after, limit, type) never panics
// and what it accepts is within its bounds.
func FuzzFeedQuery(f *testing.F) {
	for _, s := range []string{"", "after=0&limit=50", "after=18446744073709551615", "after=-1", "limit=501", "limit=0", "type=app.*", "type=app.created,app.deleted", "type=%00", "after=1&after=2", "limit=1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, fe := parseFeedQuery(v)
		if len(fe) > 0 {
			for _, e := range fe {
				if e.Field == "" || e.Message == "" {
					t.Fatalf("%q: field error %+v", raw, e)
				}
			}
			return
		}
		if q.limit < 1 || q.limit > 500 {
			t.Fatalf("%q: limit %d", raw, q.limit)
		}
	})
}

// FuzzHeaders: If-Match, Idempotency-Key and X-Request-Id, as a client
// may send them.
func FuzzHeaders(f *testing.F) {
	for _, s := range []string{"", "*", `"1"`, `W/"1"`, `"2"`, ` "1" `, `"18446744073709551616"`, `"-1"`, "1", `""`, "key-1", strings.Repeat("k", 256), "k\x00", "ключ"} {
		f.Add(s, uint64(1))
	}
	e := echo.New()
	idem := (&Idempotency{}).Middleware(func(echo.Context) error { return nil })
	f.Fuzz(func(t *testing.T, h string, current uint64) {
		if current == 0 {
			return // versions start at 1
		}
		req := httptest.NewRequest(http.MethodPatch, "/x", io.NopCloser(strings.NewReader("{}")))
		req.Header.Set("If-Match", h)
		c := e.NewContext(req, httptest.NewRecorder())
		v, err := ifMatch(c, current)
		trimmed := strings.TrimSpace(h)
		switch {
		case err != nil:
			var p *httpapi.Problem
			if !errors.As(err, &p) || p.Status != http.StatusPreconditionFailed {
				t.Fatalf("If-Match %q: %v", h, err)
			}
		case v == 0:
			if trimmed != "" && trimmed != "*" {
				t.Fatalf("If-Match %q passed unconditionally", h)
			}
		case v != current:
			t.Fatalf("If-Match %q matched %d, current %d", h, v, current)
		}

		valid := len(h) >= 1 && len(h) <= 255
		for i := 0; i < len(h); i++ {
			valid = valid && h[i] >= 0x20 && h[i] <= 0x7e
		}
		if valid || h == "" {
			return // a valid key reaches the log, which this target has not
		}
		req.Header.Set("Idempotency-Key", h)
		c = e.NewContext(req, httptest.NewRecorder())
		var p *httpapi.Problem
		if err := idem(c); !errors.As(err, &p) || p.Status != http.StatusBadRequest || p.Errors[0].Field != "Idempotency-Key" {
			t.Fatalf("Idempotency-Key %q: %v", h, err)
		}
		if httpapi.ValidRequestID(h) {
			t.Fatalf("X-Request-Id %q accepted", h)
		}
	})
}

package e2e

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// kids are the key ids of a JWK set.
func kids(set jose.JSONWebKeySet) []string {
	out := make([]string, len(set.Keys))
	for i, k := range set.Keys {
		out[i] = k.KeyID
	}
	return out
}

var maxAgeRe = regexp.MustCompile(`(?:^|[ ,])max-age=(\d+)`)

// TestJWKS: the key set holds public signing keys only, of the two
// families a default server keeps (ES256: access tokens and ID tokens
// that ask for it; RS256: ID tokens by default), is cacheable
// (Cache-Control public, max-age) and answers If-None-Match with 304.
func TestJWKS(t *testing.T) {
	t.Parallel()
	a := newAPI(t, shared(t), "")
	r := a.call(http.MethodGet, "/.well-known/jwks.json", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("jwks = %s", r)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/jwk-set+json" && ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	cc := r.Header.Get("Cache-Control")
	if m := maxAgeRe.FindStringSubmatch(cc); m == nil || m[1] == "0" || !regexp.MustCompile(`\bpublic\b`).MatchString(cc) {
		t.Errorf("Cache-Control = %q, want public with a max-age", cc)
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	r.decode(t, &raw)
	algs := map[any]int{}
	for _, k := range raw.Keys {
		algs[k["alg"]]++
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %v has the private member %q", k["kid"], private)
			}
		}
		ec := k["alg"] == "ES256" && k["kty"] == "EC" && k["crv"] == "P-256"
		rsa := k["alg"] == "RS256" && k["kty"] == "RSA" && k["n"] != nil && k["e"] != nil
		if k["kid"] == "" || k["use"] != "sig" || !ec && !rsa {
			t.Errorf("key %v: want kid, use sig, and alg ES256 (kty EC, crv P-256) or RS256 (kty RSA, n, e)", k)
		}
	}
	if algs["ES256"] < 2 || algs["RS256"] < 1 {
		t.Errorf("keys by alg %v: want the ES256 active key and the next one published ahead, and an RS256 key", algs)
	}
	tag := r.Header.Get("ETag")
	if tag == "" {
		t.Fatal("no ETag")
	}
	if r := a.call(http.MethodGet, "/.well-known/jwks.json", nil, "If-None-Match", tag); r.Status != http.StatusNotModified || len(r.Body) != 0 {
		t.Errorf("If-None-Match of the current ETag = %s, want 304", r)
	}
	if r := a.call(http.MethodGet, "/.well-known/jwks.json", nil, "If-None-Match", `"stale"`); r.Status != http.StatusOK {
		t.Errorf("If-None-Match of another ETag = %s, want 200", r)
	}
}

// TestKeyRotation drives POST /v1/platform/keys/rotate on a server of its
// own: 202 with the new next key, published in the JWKS at once and not
// signing before the JWKS cache lifetime has passed; the active key keeps
// signing; tokens minted before verify and introspect active throughout.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	a := adminAPI(t, s)
	before := a.mint(adminCreds()).AccessToken
	h, _ := a.verifyJOSE(before)
	active := h.KeyID
	r := a.call(http.MethodGet, "/.well-known/jwks.json", nil)
	oldTag := r.Header.Get("ETag")
	maxAge, _ := strconv.Atoi(maxAgeRe.FindStringSubmatch(r.Header.Get("Cache-Control"))[1])
	set0 := a.jwks()
	if !slices.Contains(kids(set0), active) {
		t.Fatalf("the JWKS %v lacks the active key %s", kids(set0), active)
	}

	readOnly := a.mint(adminCreds(), "platform:apps:read").AccessToken
	wantProblem(t, a.as(readOnly).call(http.MethodPost, "/v1/platform/keys/rotate", nil), http.StatusForbidden, "insufficient_scope")
	wantProblem(t, a.as("").call(http.MethodPost, "/v1/platform/keys/rotate", nil), http.StatusUnauthorized, "unauthorized")
	if got := a.jwks(); !slices.Equal(kids(got), kids(set0)) {
		t.Fatalf("a refused rotation changed the JWKS: %v → %v", kids(set0), kids(got))
	}

	var previousNext string
	for round := range 2 {
		start := time.Now()
		r := a.call(http.MethodPost, "/v1/platform/keys/rotate", nil)
		if r.Status != http.StatusAccepted || r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("rotate = %s (%s), want 202 JSON", r, r.Header.Get("Content-Type"))
		}
		var rot struct {
			Activated  string    `json:"activated"`
			Next       string    `json:"next"`
			ActivateAt time.Time `json:"activate_at"`
		}
		r.decode(t, &rot)
		if rot.Next == "" || rot.Activated != "" {
			t.Fatalf("rotation %d = %s: the next key is too young to sign, so a new next key must be scheduled", round, r.Body)
		}
		if earliest := start.Add(time.Duration(maxAge) * time.Second); rot.ActivateAt.Before(earliest) {
			t.Errorf("the new key signs from %s, before every cached JWKS (max-age %ds) can hold it (%s)", rot.ActivateAt, maxAge, earliest)
		}
		set := a.jwks()
		if !slices.Contains(kids(set), rot.Next) || !slices.Contains(kids(set), active) {
			t.Fatalf("after rotation the JWKS is %v, want the active %s and the new next %s", kids(set), active, rot.Next)
		}
		if previousNext != "" && slices.Contains(kids(set), previousNext) {
			t.Errorf("the replaced next key %s, which never signed, is still published", previousNext)
		}
		previousNext = rot.Next

		after := a.mint(adminCreds()).AccessToken
		if h, _ := a.verifyJOSE(after); h.KeyID != active {
			t.Errorf("a token minted right after the rotation is signed by %s, want the active %s: a key signs only once published long enough", h.KeyID, active)
		}
		a.verifyJOSE(before)
		verifyOIDC(t, a, before)
		if !a.active(before) {
			t.Fatal("a token minted before the rotation is no longer active")
		}
	}
	r = a.call(http.MethodGet, "/.well-known/jwks.json", nil, "If-None-Match", oldTag)
	if r.Status != http.StatusOK || r.Header.Get("ETag") == oldTag {
		t.Errorf("the JWKS ETag did not change with its keys: %s %q", r, r.Header.Get("ETag"))
	}
}

package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
)

// Limits of a client assertion (RFC 7523 §3).
const (
	// assertionLeeway is the clock skew accepted on exp, nbf and iat.
	assertionLeeway = 30 * time.Second
	// maxAssertionLife bounds how far in the future exp may be, so that
	// the record of a used jti has to guard it for an hour at most.
	maxAssertionLife = time.Hour
	maxJTILength     = 255
)

// AssertionSigningAlgs are the JWS algorithms a client assertion may be
// signed with: what token_endpoint_auth_signing_alg_values_supported
// advertises (RFC 8414 §2). HMAC (client_secret_jwt) and "none" are not
// among them. An Ed25519 key signs as "EdDSA" or as "Ed25519", RFC 9864's
// fully-specified name of the same algorithm, which oauth4webapi (and so
// openid-client 6) writes for an Ed25519 key.
var AssertionSigningAlgs = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA", algEd25519}

// KeyFitsAlg reports whether a client's public key (as go-jose decodes a
// JWK) can verify signatures of JWS algorithm alg, one of
// AssertionSigningAlgs: an EC key of the curve the ES algorithm names
// (RFC 7518 §3.4), an RSA key of at least 2048 bits for RS and PS (§3.3,
// §3.5: "MUST be used"), an Ed25519 key for EdDSA and Ed25519 (RFC 8037,
// RFC 9864).
func KeyFitsAlg(key any, alg string) bool {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
	case *rsa.PublicKey:
		return k.N.BitLen() >= 2048 && (strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS"))
	case ed25519.PublicKey:
		return alg == string(jose.EdDSA) || alg == algEd25519
	}
	return false
}

// algEd25519 is RFC 9864 §2.2's JWS algorithm EdDSA with Ed25519. go-jose
// knows it only as "EdDSA", so verifyEd25519 verifies it.
const algEd25519 = "Ed25519"

// assertionAlgs is AssertionSigningAlgs for go-jose.
var assertionAlgs = func() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(AssertionSigningAlgs))
	for i, a := range AssertionSigningAlgs {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}()

// assertionVerifier authenticates private_key_jwt clients (RFC 7523 §3,
// OpenID Connect Core §9): the assertion is signed by a key of the client's
// registered JWK set, names the client in iss and sub, names this server
// in aud (the issuer, the token endpoint URL, or the URL of the endpoint
// it is sent to), has not expired, and its jti is used once, across every
// instance, through the log.
type assertionVerifier struct {
	issuer string
	log    events.Log
	now    func() time.Time
}

// assertionClaims are the claims RFC 7523 §3 rules on.
type assertionClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	ID        string           `json:"jti"`
}

// clientLookup finds a client by id, as clientAuthenticator.client does.
type clientLookup func(ctx context.Context, id string) (*Client, error)

// authenticate checks the client_assertion of form and returns its client.
func (v *assertionVerifier) authenticate(ctx context.Context, r *http.Request, form url.Values, lookup clientLookup) (*Client, error) {
	tok, err := jwt.ParseSigned(form.Get("client_assertion"), assertionAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return nil, errBadClient("The client_assertion is not a JWT signed with one of " + strings.Join(AssertionSigningAlgs, ", ") + ".")
	}
	id, err := assertionClient(tok, form.Get("client_id"))
	if err != nil {
		return nil, err
	}
	cl, err := lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if cl.AuthMethod != "private_key_jwt" {
		return nil, errBadClient("The client is not registered for private_key_jwt: it cannot authenticate with a client_assertion.")
	}
	c, err := verifySignature(form.Get("client_assertion"), tok, cl.JWKS)
	if err != nil {
		return nil, err
	}
	exp, err := v.checkClaims(c, id, v.audiences(r))
	if err != nil {
		return nil, err
	}
	return cl, v.use(ctx, cl, c.ID, exp)
}

// assertionClient returns the client the assertion is about: its sub
// (RFC 7523 §3 B), which the form's client_id, when sent, must equal
// (RFC 7521 §4.2).
func assertionClient(tok *jwt.JSONWebToken, formID string) (string, error) {
	var c assertionClaims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil || c.Subject == "" {
		return "", errBadClient("The client_assertion has no 'sub' claim naming the client.")
	}
	if formID != "" && formID != c.Subject {
		return "", errBadClient("The client_assertion's 'sub' is not the client_id of the request.")
	}
	return c.Subject, nil
}

// verifySignature verifies tok, parsed from raw, with the client's
// registered keys: those of the header's kid when it has one, else every
// key; a key marked for another use or algorithm is skipped.
func verifySignature(raw string, tok *jwt.JSONWebToken, set json.RawMessage) (assertionClaims, error) {
	var jwks jose.JSONWebKeySet
	if len(set) == 0 || json.Unmarshal(set, &jwks) != nil {
		return assertionClaims{}, errBadClient("The client has no JSON Web Key Set registered to verify its client_assertion.")
	}
	h := tok.Headers[0]
	keys := jwks.Keys
	if h.KeyID != "" {
		keys = jwks.Key(h.KeyID)
	}
	for _, k := range keys {
		if (k.Use != "" && k.Use != "sig") || (k.Algorithm != "" && !sameAlg(k, h.Algorithm)) {
			continue
		}
		var c assertionClaims
		if h.Algorithm == algEd25519 {
			if verifyEd25519(raw, h, k) && tok.UnsafeClaimsWithoutVerification(&c) == nil {
				return c, nil
			}
			continue
		}
		if tok.Claims(k.Key, &c) == nil {
			return c, nil
		}
	}
	return assertionClaims{}, errBadClient("The client_assertion's signature does not verify with any key the client registered for its 'kid' and 'alg'.")
}

// sameAlg reports whether key k, registered with an "alg", may verify a
// signature whose header names alg: the same name, or for an Ed25519 key
// "EdDSA" and "Ed25519", two names of one algorithm (RFC 9864 §2.2).
func sameAlg(k jose.JSONWebKey, alg string) bool {
	if k.Algorithm == alg {
		return true
	}
	_, ed := k.Key.(ed25519.PublicKey)
	eddsa := func(a string) bool { return a == string(jose.EdDSA) || a == algEd25519 }
	return ed && eddsa(k.Algorithm) && eddsa(alg)
}

// verifyEd25519 verifies the Ed25519 signature of the compact JWS raw,
// whose protected header is h, with k: what go-jose does for "EdDSA". A
// "crit" header is refused, as go-jose refuses one it does not support
// (RFC 7515 §4.1.11). raw is what jwt.ParseSigned parsed (compact, as
// is: it drops no white space), so the claims read are the bytes verified.
func verifyEd25519(raw string, h jose.Header, k jose.JSONWebKey) bool {
	pub, ok := k.Key.(ed25519.PublicKey)
	if _, crit := h.ExtraHeaders["crit"]; !ok || crit || len(pub) != ed25519.PublicKeySize {
		return false
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	return err == nil && ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig)
}

// audiences are the aud values an assertion sent to r may name: the
// issuer, the token endpoint URL (RFC 7523 §3 C), and the URL of the
// endpoint it is sent to (introspection, revocation).
func (v *assertionVerifier) audiences(r *http.Request) []string {
	return []string{v.issuer, v.issuer + tokenPath, v.issuer + r.URL.Path}
}

// checkClaims applies RFC 7523 §3 to verified claims of client id and
// returns until when its jti must be remembered.
func (v *assertionVerifier) checkClaims(c assertionClaims, id string, auds []string) (time.Time, error) {
	now := v.now()
	switch {
	case c.Issuer != id:
		return time.Time{}, errBadClient("The client_assertion's 'iss' must be the client_id.")
	case !slices.ContainsFunc(auds, c.Audience.Contains):
		return time.Time{}, errBadClient("The client_assertion's 'aud' must name this server: its issuer or its token endpoint URL.")
	case c.Expiry == nil:
		return time.Time{}, errBadClient("The client_assertion has no 'exp' claim.")
	case !now.Before(c.Expiry.Time().Add(assertionLeeway)):
		return time.Time{}, errBadClient("The client_assertion has expired.")
	case c.Expiry.Time().After(now.Add(maxAssertionLife + assertionLeeway)):
		return time.Time{}, errBadClient("The client_assertion's 'exp' is more than an hour away: use a short-lived assertion.")
	case c.NotBefore != nil && c.NotBefore.Time().After(now.Add(assertionLeeway)):
		return time.Time{}, errBadClient("The client_assertion is not valid yet ('nbf').")
	case c.IssuedAt != nil && c.IssuedAt.Time().After(now.Add(assertionLeeway)):
		return time.Time{}, errBadClient("The client_assertion was issued in the future ('iat').")
	case c.ID == "" || len(c.ID) > maxJTILength:
		return time.Time{}, errBadClient("The client_assertion needs a 'jti' claim of at most 255 characters.")
	}
	return c.Expiry.Time().Add(assertionLeeway), nil
}

// use records the first use of jti by cl, valid until exp: an append
// expecting the (client, jti) aggregate to be new, so that of two
// requests with one jti, on any instances, exactly one succeeds (RFC 7523
// §3 item 7). The loser is invalid_client.
func (v *assertionVerifier) use(ctx context.Context, cl *Client, jti string, exp time.Time) error {
	ref := events.AssertionRef(cl.Tenant, cl.ClientID, jti)
	ev, err := events.New(ref, events.Actor{Kind: events.ActorApp, ID: cl.AppID}, v.now(),
		&events.ClientAssertionUsed{AppID: cl.AppID, ClientID: cl.ClientID, JTI: jti, ExpiresAt: exp.UTC()})
	if err != nil {
		return err
	}
	_, err = command.Run(ctx, command.Deps{Log: v.log, Attempts: 1}, func(context.Context, int) (command.Decision, error) {
		return command.Decision{Append: events.Append{Events: []events.Event{ev}, Expect: []events.Expect{{Ref: ref}}}, NoWait: true}, nil
	})
	if errors.Is(err, events.ErrVersionConflict) {
		return errBadClient("The client_assertion's 'jti' was used before: an assertion is good for one request.")
	}
	return err
}

// tokenPath is the token endpoint's path under the issuer.
const tokenPath = "/v1/oauth/token"

package authz

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
)

// Grant types and client authentication methods an app may register
// (API.md "Apps").
var (
	grantTypes  = []string{"client_credentials", "authorization_code", "refresh_token"}
	authMethods = []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"}
)

// Limits of the app fields.
const (
	maxAppName      = 100
	minTokenTTL     = 60
	maxTokenTTL     = oauth.MaxTokenTTL
	maxMetadataSize = 16 << 10
)

// createAppRequest is the body of POST /v1/platform/apps.
type createAppRequest struct {
	Name                    string          `json:"name"`
	GrantTypes              []string        `json:"grant_types" maxItems:"3"`
	RedirectURIs            []string        `json:"redirect_uris" maxItems:"20"`
	RequestedScopes         []string        `json:"requested_scopes" maxItems:"100"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	JWKS                    json.RawMessage `json:"jwks"`
	Active                  *bool           `json:"active"`
	AccessTokenTTLSeconds   *int            `json:"access_token_ttl_seconds"`
	Metadata                json.RawMessage `json:"metadata"`
	// IDTokenSignedResponseAlg (OIDC Registration 1.0 §2): one of the
	// server's ID-token algorithms; absent, the first of them.
	IDTokenSignedResponseAlg *string `json:"id_token_signed_response_alg"`
}

// patchAppRequest is the body of PATCH /v1/platform/apps/{id}: absent
// fields do not change.
type patchAppRequest struct {
	Name                  *string          `json:"name"`
	GrantTypes            *[]string        `json:"grant_types" maxItems:"3"`
	RedirectURIs          *[]string        `json:"redirect_uris" maxItems:"20"`
	Active                *bool            `json:"active"`
	AccessTokenTTLSeconds *int             `json:"access_token_ttl_seconds"`
	Metadata              *json.RawMessage `json:"metadata"`
	JWKS                  *json.RawMessage `json:"jwks"`
	// TokenEndpointAuthMethod switches how the app authenticates; see
	// patchCommand.secretEvents for what it does to the app's secrets.
	TokenEndpointAuthMethod  *string `json:"token_endpoint_auth_method"`
	IDTokenSignedResponseAlg *string `json:"id_token_signed_response_alg"`
}

// fieldErrs collects validation problems, one per field at most.
type fieldErrs []httpapi.FieldError

func (fe *fieldErrs) add(field, format string, args ...any) {
	for _, e := range *fe {
		if e.Field == field {
			return
		}
	}
	*fe = append(*fe, httpapi.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// appShape is what the cross-field rules look at, after defaults.
type appShape struct {
	Name         string
	GrantTypes   []string
	RedirectURIs []string
	AuthMethod   string
	JWKS         json.RawMessage
	TTL          int
	Metadata     json.RawMessage
	// IDTokenAlg is the id_token_signed_response_alg the request sets
	// (nil: absent), to be one of IDTokenAlgs, the server's.
	IDTokenAlg  *string
	IDTokenAlgs []string
}

// normalize fills create's defaults; idAlgs are the server's ID-token
// algorithms.
func (r *createAppRequest) normalize(defaultTTL int, idAlgs []string) appShape {
	s := appShape{
		Name:         r.Name,
		GrantTypes:   r.GrantTypes,
		RedirectURIs: r.RedirectURIs,
		AuthMethod:   r.TokenEndpointAuthMethod,
		JWKS:         r.JWKS,
		TTL:          defaultTTL,
		Metadata:     r.Metadata,
		IDTokenAlg:   r.IDTokenSignedResponseAlg,
		IDTokenAlgs:  idAlgs,
	}
	if s.GrantTypes == nil {
		s.GrantTypes = []string{"client_credentials"}
	}
	if s.RedirectURIs == nil {
		s.RedirectURIs = []string{}
	}
	if s.AuthMethod == "" {
		s.AuthMethod = "client_secret_basic"
	}
	if r.AccessTokenTTLSeconds != nil {
		s.TTL = *r.AccessTokenTTLSeconds
	}
	return s
}

// validate checks every rule of the App fields and returns all problems.
func (s appShape) validate() fieldErrs {
	var fe fieldErrs
	validateName(&fe, s.Name)
	validateGrantTypes(&fe, s.GrantTypes)
	validateRedirectURIs(&fe, s.RedirectURIs, slices.Contains(s.GrantTypes, "authorization_code"))
	validateAuthMethod(&fe, s)
	if s.TTL < minTokenTTL || s.TTL > maxTokenTTL {
		fe.add("access_token_ttl_seconds", "must be between %d and %d", minTokenTTL, maxTokenTTL)
	}
	validateMetadata(&fe, s.Metadata)
	if s.IDTokenAlg != nil && !slices.Contains(s.IDTokenAlgs, *s.IDTokenAlg) {
		fe.add("id_token_signed_response_alg", "must be one of %s", strings.Join(s.IDTokenAlgs, ", "))
	}
	return fe
}

func validateName(fe *fieldErrs, name string) {
	n := utf8.RuneCountInString(name)
	switch {
	case strings.TrimSpace(name) == "":
		fe.add("name", "is required")
	case n > maxAppName:
		fe.add("name", "must be at most %d characters", maxAppName)
	}
}

func validateGrantTypes(fe *fieldErrs, gts []string) {
	if len(gts) == 0 {
		fe.add("grant_types", "must name at least one grant type")
	}
	seen := map[string]bool{}
	for _, g := range gts {
		if !slices.Contains(grantTypes, g) {
			fe.add("grant_types", "unknown grant type %q: use %s", g, strings.Join(grantTypes, ", "))
		}
		if seen[g] {
			fe.add("grant_types", "lists %q twice", g)
		}
		seen[g] = true
	}
	if seen["refresh_token"] && !seen["authorization_code"] {
		fe.add("grant_types", "refresh_token needs authorization_code")
	}
}

func validateRedirectURIs(fe *fieldErrs, uris []string, codeFlow bool) {
	if codeFlow && len(uris) == 0 {
		fe.add("redirect_uris", "is required for the authorization_code grant")
	}
	if !codeFlow && len(uris) > 0 {
		fe.add("redirect_uris", "is only allowed with the authorization_code grant")
	}
	for _, u := range uris {
		if msg := checkRedirectURI(u); msg != "" {
			fe.add("redirect_uris", "%q %s", u, msg)
		}
	}
}

// checkRedirectURI applies RFC 6749 §3.1.2 and RFC 8252 §7.3: absolute, no
// fragment, https, or http on a loopback host.
func checkRedirectURI(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return "is not an absolute URL"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "must not have a fragment"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return ""
	}
	return "must use https (or http on a loopback host)"
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validateAuthMethod(fe *fieldErrs, s appShape) {
	if !slices.Contains(authMethods, s.AuthMethod) {
		fe.add("token_endpoint_auth_method", "unknown method %q: use %s", s.AuthMethod, strings.Join(authMethods, ", "))
		return
	}
	switch {
	case s.AuthMethod == "none" && slices.Contains(s.GrantTypes, "client_credentials"):
		fe.add("token_endpoint_auth_method", "none (a public client) cannot use client_credentials")
	case s.AuthMethod == "private_key_jwt" && len(s.JWKS) == 0:
		fe.add("jwks", "is required for private_key_jwt")
	}
	if len(s.JWKS) > 0 {
		if msg := checkJWKS(s.JWKS); msg != "" {
			fe.add("jwks", "%s", msg)
		}
	}
}

// checkJWKS accepts a JWK set (RFC 7517 §5) of public signing keys that a
// client assertion can be verified with: EC, RSA (2048 bits or more) or
// Ed25519 keys, "use" absent or "sig", "alg" absent or one of
// AssertionSigningAlgs that the key can sign with. Its
// messages are the server's own, never the JSON or JOSE library's.
func checkJWKS(raw json.RawMessage) string {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return `is not a JWK set (RFC 7517 §5): an object {"keys": [...]} of valid public JWKs`
	}
	if len(set.Keys) == 0 {
		return "must hold at least one key"
	}
	for i, k := range set.Keys {
		if msg := checkJWK(k); msg != "" {
			return fmt.Sprintf("key %d %s", i, msg)
		}
	}
	return ""
}

// checkJWK applies checkJWKS's rules to one key.
func checkJWK(k jose.JSONWebKey) string {
	switch {
	case !k.IsPublic():
		return "must be a public key"
	case !k.Valid():
		return "is not a valid key"
	case k.Use != "" && k.Use != "sig":
		return `has "use" other than "sig"`
	case k.Algorithm != "" && !slices.Contains(oauth.AssertionSigningAlgs, k.Algorithm):
		return fmt.Sprintf(`has "alg" %q: use one of %s`, k.Algorithm, strings.Join(oauth.AssertionSigningAlgs, ", "))
	}
	switch key := k.Key.(type) {
	case *ecdsa.PublicKey, ed25519.PublicKey:
	case *rsa.PublicKey:
		if key.N.BitLen() < 2048 {
			return "is an RSA key of fewer than 2048 bits (RFC 7518 §3.3)"
		}
	default:
		return "is not an EC, RSA or Ed25519 key"
	}
	if k.Algorithm != "" && !oauth.KeyFitsAlg(k.Key, k.Algorithm) {
		return fmt.Sprintf(`has "alg" %q, which its key cannot sign with`, k.Algorithm)
	}
	return ""
}

// usesSecret reports whether apps of auth method have client secrets.
func usesSecret(method string) bool {
	return method == "client_secret_basic" || method == "client_secret_post"
}

func validateMetadata(fe *fieldErrs, m json.RawMessage) {
	if len(m) == 0 || string(m) == "null" {
		return
	}
	if len(m) > maxMetadataSize {
		fe.add("metadata", "must be at most 16 KiB")
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(m, &obj) != nil {
		fe.add("metadata", "must be a JSON object")
	}
}

package vault

import (
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// DefaultHeaderTemplate is how the proxy injects a credential's access
// token when the credential names no template.
const DefaultHeaderTemplate = "Authorization: Bearer {token}"

// TokenPlaceholder is where a header template's value takes the token.
const TokenPlaceholder = "{token}"

// CheckHeaderTemplate validates a header template, "<Header-Name>:
// <value>": a valid field name (RFC 9110 §5.1) that is not hop-by-hop,
// Host or a cookie, and a value holding {token} exactly once with no
// control characters. It returns "" or what is wrong.
func CheckHeaderTemplate(t string) string {
	name, value, ok := ParseHeaderTemplate(t)
	switch {
	case len(t) > 512:
		return "must be at most 512 bytes"
	case !ok:
		return `must be "<Header-Name>: <value>" with {token} once in the value, e.g. "Authorization: Bearer {token}"`
	case !httpguts.ValidHeaderFieldName(name):
		return "must start with a valid header name"
	case !httpguts.ValidHeaderFieldValue(strings.ReplaceAll(value, TokenPlaceholder, "x")):
		return "must not hold control characters in the value"
	}
	switch http.CanonicalHeaderKey(name) {
	case "Host", "Cookie", "Set-Cookie", "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length":
		return "must not name " + name
	}
	return ""
}

// ParseHeaderTemplate splits a template into its header name and value
// (false when it is not one; "" is the default template).
func ParseHeaderTemplate(t string) (name, value string, ok bool) {
	if t == "" {
		t = DefaultHeaderTemplate
	}
	name, value, ok = strings.Cut(t, ":")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || name == "" || strings.Count(value, TokenPlaceholder) != 1 {
		return "", "", false
	}
	return name, value, true
}

package oauth

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/httpapi"
)

// rfcError returns err when it is an RFC 6749 error. Any other error (a
// failed signature, a failed append) would reach the client as fosite's
// non-standard {"error": "error"}: it becomes temporarily_unavailable (503)
// when the log is unreachable and server_error (500) otherwise, and its
// cause is logged, never shown (RFC 6749 §5.2, §4.1.2.1).
func (o *Server) rfcError(c echo.Context, err error) error {
	var rfc *fosite.RFC6749Error
	unavailable := httpapi.IsUnavailable(err)
	if errors.As(err, &rfc) && (!unavailable || rfc.ErrorField == fosite.ErrTemporarilyUnavailable.ErrorField) {
		return err
	}
	o.cfg.Logger.LogAttrs(c.Request().Context(), slog.LevelError, "token request failed",
		slog.String("request_id", httpapi.RequestID(c)), slog.String("error", err.Error()))
	if unavailable { // also when fosite wrapped it, e.g. as invalid_client from GetClient
		return fosite.ErrTemporarilyUnavailable.WithWrap(err)
	}
	return fosite.ErrServerError.WithWrap(err)
}

// tooLarge returns the 413 problem when err is the body limit's (a body
// sent without Content-Length passed it; one that declared a larger length
// never reached the handler), as on every other endpoint.
func tooLarge(err error) (*httpapi.Problem, bool) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return httpapi.PayloadTooLarge(mbe.Limit), true
	}
	return nil, false
}

// oauthError maps err to the RFC 6749 §5.2 error of the token,
// introspection and revocation endpoints. A 401 challenges with the scheme
// the client used (§5.2): Bearer when it sent a bearer token, Basic
// otherwise (the scheme it used, or the one the server supports when it
// authenticated in the form). The description is fosite's sentence for
// the code plus the hint of the error, unless the hint quotes a library's
// error; the cause is then only logged.
func (o *Server) oauthError(c echo.Context, err error) error {
	if p, ok := err.(*httpapi.Problem); ok {
		return p // 413 from parseOAuthForm
	}
	rfc := fosite.ErrorToRFC6749Error(o.rfcError(c, err))
	var wait time.Duration
	if rfc.CodeField == http.StatusServiceUnavailable {
		wait = unavailableRetry
	}
	return writeError(c, rfc.CodeField, rfc.ErrorField, o.describe(c, rfc), wait)
}

// unavailableRetry is the Retry-After of a temporarily_unavailable (503).
const unavailableRetry = 5 * time.Second

// writeError writes an RFC 6749 §5.2 error document; every error answer of
// the OAuth endpoints goes through it (oauthError, and slowDown for the
// 429 of the limits). The answer is never cached; retryAfter, when set (a
// 503 or 429), is sent as Retry-After; a 401 challenges the client.
func writeError(c echo.Context, status int, code, description string, retryAfter time.Duration) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if retryAfter > 0 {
		h.Set("Retry-After", httpapi.RetryAfterSeconds(retryAfter))
	}
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", challenge(c.Request(), code))
	}
	return c.JSON(status, map[string]string{"error": code, "error_description": descriptionChars(description)})
}

// descriptionChars is description in the characters RFC 6749 §5.2 allows
// an error_description (%x20-21 / %x23-5B / %x5D-7E: printable ASCII
// less the double quote and the backslash): a double quote becomes a
// single one, a backslash a slash, '§' the word "section", any other
// character '?'. A strict client refuses an answer with others, and a
// hint may quote a client's input or a provider's answer.
func descriptionChars(description string) string {
	ok := true
	for i := 0; i < len(description); i++ {
		if b := description[i]; b < 0x20 || b > 0x7e || b == '"' || b == '\\' {
			ok = false
			break
		}
	}
	if ok {
		return description
	}
	var b strings.Builder
	for _, r := range description {
		switch {
		case r == '"':
			b.WriteByte('\'')
		case r == '\\':
			b.WriteByte('/')
		case r == '§':
			b.WriteString("section ")
		case r < 0x20 || r > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// challenge is the WWW-Authenticate value of a 401 to r whose body says
// code: the scheme the client authenticated with (RFC 6749 §5.2), Bearer
// to a caller that sent a bearer token (introspection, revocation), else
// Basic. A Bearer challenge names code only when it is one of RFC 6750
// §3.1's; the 401 of these endpoints is invalid_client, which is not,
// so their challenge names no error rather than another one than the
// body's (it said invalid_token beside invalid_client).
func challenge(r *http.Request, code string) string {
	if _, ok := bearer(r); ok {
		if slices.Contains(bearerErrors, code) {
			return `Bearer realm="gatehouse", error="` + code + `"`
		}
		return `Bearer realm="gatehouse"`
	}
	return `Basic realm="gatehouse"`
}

// bearerErrors are RFC 6750 §3.1's error codes.
var bearerErrors = []string{"invalid_request", "invalid_token", "insufficient_scope"}

// describe returns the error_description of rfc in the server's own words:
// fosite's description of the code, and the hint when it is a sentence of
// ours or fosite's rather than a library's error text.
func (o *Server) describe(c echo.Context, rfc *fosite.RFC6749Error) string {
	d := rfc.GetDescription()
	if !quotesLibraryError(d) {
		return d
	}
	o.cfg.Logger.LogAttrs(c.Request().Context(), slog.LevelWarn, "OAuth error detail withheld",
		slog.String("request_id", httpapi.RequestID(c)), slog.String("error", rfc.ErrorField), slog.String("detail", d))
	return strings.ReplaceAll(rfc.DescriptionField, `"`, "'")
}

// libraryErrorMarks are fragments of the error texts of Go libraries
// (go-jose, crypto, encoding) that must never reach a client.
var libraryErrorMarks = []string{"go-jose", "square/", "crypto/", "x509:", "asn1:", "json:", "base64", "strconv.", "runtime error", "%!"}

// quotesLibraryError reports whether s holds a library's error text.
func quotesLibraryError(s string) bool {
	return slices.ContainsFunc(libraryErrorMarks, func(m string) bool { return strings.Contains(s, m) })
}

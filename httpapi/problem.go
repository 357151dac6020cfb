package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/command"
)

// Codes of the platform API's problem documents (API.md "Conventions").
// Each has one HTTP status, given by Status.
const (
	CodeValidation           = "validation_error"
	CodeUnauthorized         = "unauthorized"
	CodeInsufficientScope    = "insufficient_scope"
	CodeForbidden            = "forbidden"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeConflict             = "conflict"
	CodePreconditionFailed   = "precondition_failed"
	CodePayloadTooLarge      = "payload_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	CodeRateLimited          = "rate_limited"
	CodeQuotaExceeded        = "quota_exceeded"
	CodeInternal             = "internal"
	CodeUnavailable          = "unavailable"
	CodeUpstreamError        = "upstream_error"
)

// ProblemTypeBase starts the "type" URI of every problem; the code ends it.
// It is a URN because the project publishes no page per problem type
// (RFC 9457 §3.1.1 allows a non-resolvable URI).
const ProblemTypeBase = "urn:gatehouse:problem:"

// ProblemContentType is the media type of every problem document
// (RFC 9457 §3).
const ProblemContentType = "application/problem+json"

type codeInfo struct {
	status int
	title  string
}

var codes = map[string]codeInfo{
	CodeValidation:           {http.StatusBadRequest, "The request is invalid"},
	CodeUnauthorized:         {http.StatusUnauthorized, "Authentication is required"},
	CodeInsufficientScope:    {http.StatusForbidden, "The token lacks a required scope"},
	CodeForbidden:            {http.StatusForbidden, "The request is forbidden"},
	CodeNotFound:             {http.StatusNotFound, "The resource was not found"},
	CodeMethodNotAllowed:     {http.StatusMethodNotAllowed, "The method is not allowed on this resource"},
	CodeConflict:             {http.StatusConflict, "The request conflicts with the current state"},
	CodePreconditionFailed:   {http.StatusPreconditionFailed, "A precondition failed"},
	CodePayloadTooLarge:      {http.StatusRequestEntityTooLarge, "The request body is too large"},
	CodeUnsupportedMediaType: {http.StatusUnsupportedMediaType, "The content type is not supported"},
	CodeIdempotencyKeyReused: {http.StatusUnprocessableEntity, "The idempotency key was used with another request"},
	CodeRateLimited:          {http.StatusTooManyRequests, "Too many requests"},
	CodeQuotaExceeded:        {http.StatusForbidden, "A quota is exceeded"},
	CodeInternal:             {http.StatusInternalServerError, "Internal server error"},
	CodeUnavailable:          {http.StatusServiceUnavailable, "The service is unavailable"},
	CodeUpstreamError:        {http.StatusBadGateway, "The upstream provider refused or failed"},
}

// Status returns the HTTP status of a problem code, 500 for a code this
// package does not define.
func Status(code string) int {
	if ci, ok := codes[code]; ok {
		return ci.status
	}
	return http.StatusInternalServerError
}

// FieldError names one invalid field of a request and what is wrong with it.
// Field is the JSON path of the field ("redirect_uris[0]", "metadata").
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is the one error type of the platform API: an RFC 9457 problem
// document. Handlers return it; the server's error handler writes it. Any
// other error becomes a 500 "internal" problem whose cause is logged, never
// shown.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Code   string       `json:"code"`
	Errors []FieldError `json:"errors,omitempty"`

	// RetryAfter is sent as Retry-After (whole seconds, at least 1) on 429
	// and 503.
	RetryAfter time.Duration `json:"-"`
	// Challenge, on a 401 or 403, is the WWW-Authenticate value
	// (RFC 6750 §3).
	Challenge string `json:"-"`

	cause error
	retry bool
}

// NewProblem returns a problem of code with detail. Prefer the named
// constructors.
func NewProblem(code, detail string) *Problem {
	ci, ok := codes[code]
	if !ok {
		ci, code = codes[CodeInternal], CodeInternal
	}
	return &Problem{Type: ProblemTypeBase + code, Title: ci.title, Status: ci.status, Detail: detail, Code: code}
}

// Error implements error; it is what logs show, never what clients see of
// a 5xx.
func (p *Problem) Error() string {
	s := p.Code + ": " + p.Detail
	for _, fe := range p.Errors {
		s += "; " + fe.Field + ": " + fe.Message
	}
	if p.cause != nil {
		s += ": " + p.cause.Error()
	}
	return s
}

// Unwrap returns the cause given to WithCause, so errors.Is sees through a
// problem.
func (p *Problem) Unwrap() error { return p.cause }

// WithCause returns a copy of p that records err as its cause: logged with
// the request, never written to the client.
func (p *Problem) WithCause(err error) *Problem {
	q := *p
	q.cause = err
	return &q
}

// AsRetry returns a copy of p that asks the client to send the same
// request again: the answer is the server's state of the moment (a
// concurrent change won the race, the same work is in flight), not the
// request's outcome, so an Idempotency-Key is not held to it (Retryable).
func (p *Problem) AsRetry() *Problem {
	q := *p
	q.retry = true
	return &q
}

// Retryable reports whether err, a handler's error, answers "send the
// same request again": a problem marked AsRetry, a lost race of the
// command path (command.ErrContended), a 429 or a 5xx. Such an answer is
// not the request's outcome, and is never replayed for an Idempotency-Key.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, command.ErrContended) {
		return true
	}
	p := ProblemOf(err)
	return p.retry || RetryStatus(p.Status)
}

// RetryStatus reports whether an answer's status asks for the same
// request again: a 429 or a 5xx (Retryable's rule for a status alone).
func RetryStatus(status int) bool {
	return status == http.StatusTooManyRequests || status >= http.StatusInternalServerError
}

// Validation is 400 validation_error listing the invalid fields.
func Validation(errs ...FieldError) *Problem {
	detail := "the request has an invalid field"
	if len(errs) > 1 {
		detail = fmt.Sprintf("the request has %d invalid fields", len(errs))
	}
	p := NewProblem(CodeValidation, detail)
	p.Errors = errs
	return p
}

// BadRequest is 400 validation_error about the request as a whole, such as
// malformed JSON.
func BadRequest(detail string) *Problem { return NewProblem(CodeValidation, detail) }

// Unauthorized is 401 unauthorized with a Bearer challenge (RFC 6750 §3).
func Unauthorized(detail string) *Problem {
	p := NewProblem(CodeUnauthorized, detail)
	p.Challenge = `Bearer realm="gatehouse"`
	return p
}

// InsufficientScope is 403 insufficient_scope: the token is valid but does
// not carry scope (RFC 6750 §3.1).
func InsufficientScope(scope string) *Problem {
	p := NewProblem(CodeInsufficientScope, "this request needs the scope "+strconv.Quote(scope))
	p.Challenge = `Bearer realm="gatehouse", error="insufficient_scope", scope="` + scope + `"`
	return p
}

// QuotaExceeded is 403 quota_exceeded: a limit of the server's
// configuration (such as the webhooks of one app) is reached.
func QuotaExceeded(detail string) *Problem { return NewProblem(CodeQuotaExceeded, detail) }

// UpstreamError is a 502: an upstream provider (the vault's token
// endpoint) refused the request or failed; detail names the provider's
// error code, never a secret.
func UpstreamError(detail string) *Problem { return NewProblem(CodeUpstreamError, detail) }

// Forbidden is 403 forbidden.
func Forbidden(detail string) *Problem { return NewProblem(CodeForbidden, detail) }

// NotFound is 404 not_found; what names the missing thing ("app"), or is
// empty. A resource of another tenant is answered this way too.
func NotFound(what string) *Problem {
	if what == "" {
		return NewProblem(CodeNotFound, "not found")
	}
	return NewProblem(CodeNotFound, what+" not found")
}

// Conflict is 409 conflict.
func Conflict(detail string) *Problem { return NewProblem(CodeConflict, detail) }

// PreconditionFailed is 412 precondition_failed: a stale If-Match.
func PreconditionFailed(detail string) *Problem {
	return NewProblem(CodePreconditionFailed, detail)
}

// PayloadTooLarge is 413 payload_too_large for a body above limit bytes.
func PayloadTooLarge(limit int64) *Problem {
	return NewProblem(CodePayloadTooLarge, fmt.Sprintf("the request body exceeds %d bytes", limit))
}

// UnsupportedMediaType is 415 unsupported_media_type.
func UnsupportedMediaType(detail string) *Problem {
	return NewProblem(CodeUnsupportedMediaType, detail)
}

// IdempotencyKeyReused is 422 idempotency_key_reused: the Idempotency-Key
// was first used with a different request body.
func IdempotencyKeyReused() *Problem {
	return NewProblem(CodeIdempotencyKeyReused, "this Idempotency-Key was used with a different request")
}

// RateLimited is 429 rate_limited with Retry-After.
func RateLimited(retryAfter time.Duration) *Problem {
	p := NewProblem(CodeRateLimited, "slow down and retry later")
	p.RetryAfter = retryAfter
	return p
}

// Internal is 500 internal. cause is logged, never shown.
func Internal(cause error) *Problem {
	return NewProblem(CodeInternal, "the server failed to answer the request").WithCause(cause)
}

// Unavailable is 503 unavailable with Retry-After; cause is logged, never
// shown.
func Unavailable(retryAfter time.Duration, cause error) *Problem {
	p := NewProblem(CodeUnavailable, "the service cannot answer now; retry later").WithCause(cause)
	p.RetryAfter = retryAfter
	return p
}

// header sets the headers p's status calls for.
func (p *Problem) header(h http.Header) {
	h.Set("Content-Type", ProblemContentType)
	h.Set("Cache-Control", "no-store")
	switch p.Status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", orDefault(p.Challenge, `Bearer realm="gatehouse"`))
	case http.StatusForbidden:
		if p.Challenge != "" {
			h.Set("WWW-Authenticate", p.Challenge)
		}
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		h.Set("Retry-After", RetryAfterSeconds(p.RetryAfter))
	}
}

// RetryAfterSeconds renders d as Retry-After delay-seconds (RFC 9110
// §10.2.3), rounded up, at least 1.
func RetryAfterSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(s, 1), 10)
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

// AllCodes returns every problem code, in no particular order (the OpenAPI
// document's Problem.code enum is checked against it).
func AllCodes() []string {
	out := make([]string, 0, len(codes))
	for c := range codes {
		out = append(out, c)
	}
	return out
}

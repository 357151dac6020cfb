package graphql

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gatehouse/gatehouse/httpapi"
)

// The bridge: every field of the schema but the list reads (views.go:
// apps, webhooks, App.webhooks call authz.Reads) is answered by its REST twin,
// called in process through the server's own router with the caller's
// own request headers (its bearer token, its request id, its address).
// The REST handler authenticates the token again (a cached verification),
// checks the scope it always checks, scopes to the token's tenant, binds
// and validates the body, runs the command on the one command path and
// answers from the projection; its problem becomes the field's error with
// extensions.code equal to the problem's code. GraphQL therefore holds no
// rule of its own: no second implementation can drift from the first.
// What it costs: each field is a REST request in memory (no network, no
// TLS), counted against the caller's platform rate budget like one sent
// over the wire.

// caller is what an inner request carries over from the GraphQL request.
type caller struct {
	header http.Header // Authorization, X-Request-Id, User-Agent, X-Forwarded-For
	remote string

	mu     sync.Mutex
	logged map[string]bool // the causes logged for the request (logHidden)
}

type callerKey struct{}

// withCaller keeps in ctx what the inner requests of r carry: its
// headers, and requestID, the id of r's answer (httpapi.RequestID: the
// caller's X-Request-Id, or the one the server made for r), so that the
// inner requests and the transport's log lines name the request the
// caller sees (without it, each inner request of a request sent without
// X-Request-Id made an id of its own).
func withCaller(ctx context.Context, r *http.Request, requestID string) context.Context {
	h := http.Header{}
	for _, k := range []string{"Authorization", "User-Agent", "X-Forwarded-For"} {
		if v := r.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	if requestID != "" {
		h.Set(httpapi.HeaderRequestID, requestID)
	}
	return context.WithValue(ctx, callerKey{}, &caller{header: h, remote: r.RemoteAddr})
}

func callerOf(ctx context.Context) *caller {
	c, _ := ctx.Value(callerKey{}).(*caller)
	if c == nil {
		return &caller{header: http.Header{}}
	}
	return c
}

// restCall is one inner request.
type restCall struct {
	method, path string
	query        url.Values
	body         any
	// idem is the mutation's idempotency_key argument. (The GraphQL
	// request's own Idempotency-Key header makes the whole request
	// idempotent, in the same store: Server.Register.)
	idem    *string
	ifMatch *int
}

// call sends rc through router and decodes a 2xx answer's body into out
// (nil: ignored); any other answer is the problem as a GraphQL error.
func call(ctx context.Context, router http.Handler, rc restCall, out any) error {
	req, err := rc.request(ctx)
	if err != nil {
		return internalError(err)
	}
	w := httpapi.NewBuffer(nil)
	router.ServeHTTP(w, req)
	if w.Status < 200 || w.Status > 299 {
		return problemError(w.Status, w.Body.Bytes())
	}
	if out == nil || w.Status == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
		return internalError(fmt.Errorf("graphql: decode the answer of %s %s: %w", rc.method, rc.path, err))
	}
	return nil
}

func (rc restCall) request(ctx context.Context) (*http.Request, error) {
	var body []byte
	if rc.body != nil {
		b, err := json.Marshal(rc.body)
		if err != nil {
			return nil, err
		}
		body = b
	}
	u := rc.path
	if len(rc.query) > 0 {
		u += "?" + rc.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, rc.method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	c := callerOf(ctx)
	req.Header = c.header.Clone()
	req.RemoteAddr = c.remote
	if rc.method == http.MethodPost && rc.idem != nil {
		req.Header.Set("Idempotency-Key", *rc.idem)
	}
	if rc.ifMatch != nil {
		req.Header.Set("If-Match", `"`+strconv.Itoa(*rc.ifMatch)+`"`)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// problem is the RFC 9457 body every REST error has (API.md
// "Conventions").
type problem struct {
	Title  string            `json:"title"`
	Detail string            `json:"detail"`
	Code   string            `json:"code"`
	Errors []json.RawMessage `json:"errors"`
}

// problemError is a REST error answer as a GraphQL error: its detail as
// the message, extensions.code its code, extensions.status the HTTP
// status the REST API answers, extensions.errors its field errors.
func problemError(status int, body []byte) error {
	var p problem
	if json.Unmarshal(body, &p) != nil || p.Code == "" {
		p = problem{Title: http.StatusText(status), Code: "internal"}
	}
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	ext := map[string]any{"code": p.Code, "status": status}
	if len(p.Errors) > 0 {
		ext["errors"] = p.Errors
	}
	return &gqlerror.Error{Message: msg, Extensions: ext}
}

// internalError is err, a failure of the server rather than of the
// request, as the field's error: "internal error" with the code internal,
// as the REST API answers it (500), err kept only as the error's cause
// (gqlerror.Error.Err, never encoded). A resolver must not return err
// itself: gqlgen wraps a plain error in a *gqlerror.Error whose message
// is err.Error() before the presenter sees it, so the presenter cannot
// tell it from gqlgen's own errors (an argument it could not coerce).
func internalError(err error) *gqlerror.Error {
	return &gqlerror.Error{Message: "internal error", Extensions: map[string]any{"code": httpapi.CodeInternal}, Err: err}
}

// codedError is a GraphQL error of the transport itself, with the REST
// problem code that says the same.
func codedError(code, format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{Message: fmt.Sprintf(format, args...), Extensions: map[string]any{"code": code}}
}

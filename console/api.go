package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/oauth"
)

// answer is the platform API's answer to one in-process request.
type answer struct {
	Status int
	ETag   string
	Body   []byte
}

// ok reports a 2xx.
func (a answer) ok() bool { return a.Status >= 200 && a.Status < 300 }

// problem is the API's RFC 9457 problem (API.md "Conventions").
type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// problemOf reads a's problem; a body that is none becomes a generic one.
func (a answer) problem() problem {
	var p problem
	if err := json.Unmarshal(a.Body, &p); err != nil || p.Status == 0 {
		p = problem{Status: a.Status, Title: http.StatusText(a.Status), Detail: "The request failed.", Code: "internal"}
	}
	return p
}

// message is the sentence a page shows for p.
func (p problem) message() string {
	if p.Detail != "" {
		return p.Detail
	}
	return p.Title
}

// fields maps each field the problem names to its message.
func (p problem) fields() map[string]string {
	m := map[string]string{}
	for _, e := range p.Errors {
		m[e.Field] = e.Message
	}
	return m
}

// request is one call of the platform API.
type request struct {
	Method, Path string
	Body         any
	// IdempotencyKey and IfMatch (a version) are sent when set.
	IdempotencyKey string
	IfMatch        string
}

// do sends r to the server's own router as the person p, in-process:
// the API's middleware, scope checks, limits and handlers decide.
func (s *Console) do(c echo.Context, p oauth.Principal, r request) (answer, error) {
	var body io.Reader = http.NoBody
	if r.Body != nil {
		b, err := json.Marshal(r.Body)
		if err != nil {
			return answer{}, err
		}
		body = bytes.NewReader(b)
	}
	ctx := oauth.InProcess(c.Request().Context(), p)
	req, err := http.NewRequestWithContext(ctx, r.Method, r.Path, body)
	if err != nil {
		return answer{}, err
	}
	req.RemoteAddr = c.Request().RemoteAddr
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Request-Id", c.Response().Header().Get(echo.HeaderXRequestID))
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", r.IdempotencyKey)
	}
	if r.IfMatch != "" {
		req.Header.Set("If-Match", strconv.Quote(r.IfMatch))
	}
	rec := httptest.NewRecorder()
	s.api.ServeHTTP(rec, req)
	return answer{Status: rec.Code, ETag: strings.Trim(rec.Header().Get("ETag"), `"`), Body: rec.Body.Bytes()}, nil
}

// get reads path into out; a refusal comes back as the answer.
func (s *Console) get(c echo.Context, p oauth.Principal, path string, out any) (answer, error) {
	a, err := s.do(c, p, request{Method: http.MethodGet, Path: path})
	if err != nil || !a.ok() {
		return a, err
	}
	if err := json.Unmarshal(a.Body, out); err != nil {
		return a, fmt.Errorf("console: decode %s: %w", path, err)
	}
	return a, nil
}

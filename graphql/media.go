package graphql

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gatehouse/gatehouse/httpapi"
)

// The media types of an answer (GraphQL over HTTP, "Accept" and "Body"):
// application/graphql-response+json, the spec's own, whose status says
// whether the operation ran; application/json, the legacy one every
// client before the spec reads, answered 200 when the request was well
// formed.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

// responseType is the media type of the answer to a request whose Accept
// header is accept (RFC 9110 §12.5.1: each type takes the q of the most
// specific range that matches it): application/graphql-response+json
// when it is named and preferred, at least as much as application/json;
// else application/json, which is also the answer to no Accept, to */*
// and application/* (GraphQL over HTTP: a server SHOULD answer those
// application/json) and to an Accept of neither: the spec lets a server
// disregard such an Accept and answer application/json rather than 406,
// and API.md's problem codes have none for 406.
func responseType(accept string) string {
	gq, gspec := acceptance(accept, mediaGraphQLResponse)
	jq, _ := acceptance(accept, mediaJSON)
	if gspec == 3 && gq > 0 && gq >= jq {
		return mediaGraphQLResponse
	}
	return mediaJSON
}

// acceptance is the q accept gives the media type mt (type/subtype, lower
// case) and the specificity of the range it comes from: 3 mt itself, 2
// type/*, 1 */*, 0 none (q 0).
func acceptance(accept, mt string) (q float64, spec int) {
	typ, _, _ := strings.Cut(mt, "/")
	for _, part := range strings.Split(accept, ",") {
		rng, params, _ := strings.Cut(part, ";")
		rng = strings.ToLower(strings.TrimSpace(rng))
		s := 0
		switch rng {
		case mt:
			s = 3
		case typ + "/*":
			s = 2
		case "*/*":
			s = 1
		}
		if s > spec {
			q, spec = qOf(params), s
		}
	}
	return q, spec
}

// qOf is the q parameter among params ("q=0.9; charset=utf-8"), 1 when
// absent or malformed.
func qOf(params string) float64 {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "q") {
			if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && q >= 0 && q <= 1 {
				return q
			}
		}
	}
	return 1
}

// writeRequestError answers errs, a request error: the operation did not
// run (the document could not be chosen, parsed or validated, its
// variables not coerced, the policy refused it). GraphQL over HTTP: the
// answer has no data entry (it "MUST NOT be present" for a request that
// failed before execution); in application/json it is a 200 (the legacy
// rule for a well-formed request), in application/graphql-response+json
// a 4xx or 5xx, the status of its errors' REST code (requestStatus: a
// parse or validation error's is 400).
func writeRequestError(c echo.Context, mt string, errs gqlerror.List) error {
	status := http.StatusOK
	if mt == mediaGraphQLResponse {
		status = requestStatus(errs)
	}
	return writeJSON(c, mt, status, struct {
		Errors gqlerror.List `json:"errors"`
	}{errs})
}

// requestStatus is the status of a request error made of errs: the
// lowest 4xx of their codes (the caller's fault comes first: retrying
// the same request cannot succeed), else the first error's.
func requestStatus(errs gqlerror.List) int {
	status := 0
	for _, e := range errs {
		code, _ := e.Extensions["code"].(string)
		st := httpapi.Status(code)
		if n, ok := e.Extensions["status"].(int); ok {
			st = n
		}
		switch {
		case status == 0, st >= 400 && st < 500 && (status >= 500 || st < status):
			status = st
		}
	}
	if status == 0 {
		return http.StatusInternalServerError
	}
	return status
}

// pretty reports whether the answer is indented, as echo's c.JSON
// indents it: ?pretty, or the router in debug mode.
func pretty(c echo.Context) bool {
	_, ok := c.QueryParams()["pretty"]
	return ok || c.Echo().Debug
}

// writeJSON answers v as echo's c.JSON encodes it (indented when
// pretty), in the media type mt.
func writeJSON(c echo.Context, mt string, status int, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	if pretty(c) {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return err
	}
	return writeBody(c, mt, status, b.Bytes())
}

// writeBody answers b, a JSON document, in the media type mt: the
// answer is never stored, and varies with the request's Accept.
func writeBody(c echo.Context, mt string, status int, b []byte) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Accept")
	ct := mediaJSON
	if mt == mediaGraphQLResponse {
		ct = mediaGraphQLResponse + "; charset=utf-8"
	}
	return c.Blob(status, ct, b)
}

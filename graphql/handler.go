package graphql

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/labstack/echo/v4"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// request is a GraphQL-over-HTTP request: a document (query), or an
// approved operation's id, or a persisted-query hash in
// extensions.persistedQuery.sha256Hash.
type request struct {
	Query         string          `json:"query" text:"multiline"`
	OperationName string          `json:"operationName"`
	Variables     json.RawMessage `json:"variables"`
	Extensions    json.RawMessage `json:"extensions"`
	ID            string          `json:"id"`
}

// persistedQuery is the automatic-persisted-query extension (Apollo's
// protocol, which gqlgen and most clients speak).
type persistedQuery struct {
	PersistedQuery *struct {
		Version    int    `json:"version"`
		SHA256Hash string `json:"sha256Hash"`
	} `json:"persistedQuery"`
}

// serve answers POST and GET /v1/graphql.
func (s *Server) serve(c echo.Context) error {
	req, err := readRequest(c)
	if err != nil {
		return err
	}
	mt := responseType(c.Request().Header.Get("Accept"))
	p := oauth.PrincipalOf(c)
	ctx := withCaller(c.Request().Context(), c.Request(), httpapi.RequestID(c))
	ctx = withBatch(context.WithValue(ctx, principalKey{}, p))
	start := graphql.Now()
	ctx = graphql.StartOperationTrace(ctx)
	doc, gerr := s.document(ctx, p, req)
	if gerr != nil {
		if asksRetry(false, &graphql.Response{Errors: gqlerror.List{gerr}}) {
			authz.AskRetry(c)
		}
		return writeRequestError(c, mt, gqlerror.List{gerr})
	}
	vars, err := decodeVariables(req.Variables)
	if err != nil {
		return err
	}
	ext := map[string]any{}
	raw := &graphql.RawParams{Query: doc, OperationName: req.OperationName, Variables: vars, Extensions: ext,
		ReadTime: graphql.TraceTiming{Start: start, End: graphql.Now()}}
	opCtx, errs := s.exec.CreateOperationContext(ctx, raw)
	if len(errs) == 1 && opCtx.Doc != nil && opCtx.Operation == nil && req.OperationName == "" && len(opCtx.Doc.Operations) > 1 {
		// gqlgen's "operation  not found" (the empty name, two spaces).
		errs = gqlerror.List{codedError(httpapi.CodeValidation,
			"the document holds %d operations: name the one to run in operationName", len(opCtx.Doc.Operations))}
	}
	if len(errs) > 0 {
		return writeRequestError(c, mt, coded(numberErrors(errs), httpapi.CodeValidation))
	}
	if c.Request().Method == http.MethodGet && opCtx.Operation.Operation != ast.Query {
		c.Response().Header().Set("Allow", http.MethodPost)
		return httpapi.NewProblem(httpapi.CodeMethodNotAllowed, "a GET request runs queries only (GraphQL over HTTP); send a mutation with POST")
	}
	responses, ctx := s.exec.DispatchOperation(ctx, opCtx)
	resp := responses(ctx)
	if asksRetry(opCtx.Operation.Operation == ast.Mutation, resp) {
		authz.AskRetry(c)
	}
	return writeResponse(c, mt, resp)
}

// asksRetry reports whether r, a 200, asks for the same request again as
// a REST answer does with its status (httpapi.Retryable: a 429, a 5xx):
// an error of the transport or of a field says rate_limited, unavailable
// or internal, and no mutation took effect (every root field of a
// mutation is null), so that an Idempotency-Key on the POST is released
// for the retry rather than held to the failure. A mutation some of
// whose fields succeeded keeps its key: a retry would run them again.
func asksRetry(mutation bool, r *graphql.Response) bool {
	if r == nil {
		return true
	}
	retry := false
	for _, e := range r.Errors {
		status, _ := e.Extensions["status"].(int)
		switch code, _ := e.Extensions["code"].(string); {
		case httpapi.RetryStatus(status), code == httpapi.CodeRateLimited, code == httpapi.CodeUnavailable, code == httpapi.CodeInternal:
			retry = true
		}
	}
	if !retry || !mutation || len(r.Data) == 0 {
		return retry
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(r.Data, &fields) != nil {
		return false
	}
	for _, v := range fields {
		if string(v) != "null" {
			return false
		}
	}
	return true
}

// readRequest reads the GraphQL request of POST (a JSON body) or GET
// (query parameters, variables and extensions as JSON).
func readRequest(c echo.Context) (request, error) {
	var req request
	if c.Request().Method == http.MethodGet {
		q := c.QueryParams()
		req = request{Query: q.Get("query"), OperationName: q.Get("operationName"), ID: q.Get("id")}
		if v := q.Get("variables"); v != "" {
			req.Variables = json.RawMessage(v)
		}
		if v := q.Get("extensions"); v != "" {
			req.Extensions = json.RawMessage(v)
		}
	} else if err := httpapi.BindJSON(c, &req); err != nil {
		return req, err
	}
	if req.Query == "" && req.ID == "" && hashOf(req) == "" {
		return req, httpapi.Validation(httpapi.FieldError{Field: "query", Message: "is required (or id, or extensions.persistedQuery.sha256Hash)"})
	}
	if ext := bytes.TrimSpace(req.Extensions); len(ext) > 0 && (!json.Valid(ext) || ext[0] != '{' && string(ext) != "null") {
		return req, httpapi.Validation(httpapi.FieldError{Field: "extensions", Message: "must be a JSON object"})
	}
	return req, nil
}

// decodeVariables reads the variables object keeping numbers exact.
func decodeVariables(raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var vars map[string]any
	if err := dec.Decode(&vars); err != nil {
		return nil, httpapi.Validation(httpapi.FieldError{Field: "variables", Message: "must be a JSON object"})
	}
	return vars, nil
}

// hashOf is the persisted-query hash the request names, if any.
func hashOf(req request) string {
	if len(req.Extensions) == 0 {
		return ""
	}
	var pq persistedQuery
	if json.Unmarshal(req.Extensions, &pq) != nil || pq.PersistedQuery == nil {
		return ""
	}
	return strings.ToLower(pq.PersistedQuery.SHA256Hash)
}

// document decides which document runs (API.md "GraphQL transport"): an
// approved operation named by id or by hash, for the apps it was approved
// for; a free-form document only with graphql:adhoc.
func (s *Server) document(ctx context.Context, p oauth.Principal, req request) (string, *gqlerror.Error) {
	sum := hashOf(req)
	if req.Query != "" && sum != "" && sum != digest(req.Query) {
		return "", codedError(httpapi.CodeValidation, "provided sha256Hash does not match the query")
	}
	// An id is the hash of its document (events.GraphQLOperationID): an
	// id beside a query or a hash of another document named two
	// documents, and the id's ran, the query silently ignored.
	if req.ID != "" && (req.Query != "" && events.GraphQLOperationID(digest(req.Query)) != req.ID ||
		sum != "" && events.GraphQLOperationID(sum) != req.ID) {
		return "", codedError(httpapi.CodeValidation, "id and the query (or its sha256Hash) name different documents: send one of them")
	}
	var id string
	switch {
	case req.ID != "":
		id = req.ID
	case sum != "":
		id = events.GraphQLOperationID(sum)
		if id == "" {
			// Not a SHA-256 (64 hex digits): it names nothing, and
			// without a query there is nothing else to run (gqlgen
			// answered "no operation provided").
			return "", codedError(httpapi.CodeValidation, "extensions.persistedQuery.sha256Hash must be a SHA-256 in hex (64 digits)")
		}
	}
	if id != "" {
		op, err := s.loadOperation(ctx, p.Tenant, id)
		if err == nil {
			if !approvedFor(op, p) {
				return "", codedError(httpapi.CodeForbidden, "operation %s is not approved for this app", op.ID)
			}
			return op.Document, nil
		}
		if !errors.Is(err, projections.ErrNotFound) {
			logHidden(ctx, s.logger(), nil, fmt.Errorf("graphql: read the approved operation %s: %w", id, err))
			return "", codedError(httpapi.CodeInternal, "internal error")
		}
		if req.Query == "" {
			if req.ID != "" {
				return "", codedError(httpapi.CodeNotFound, "no approved operation %q", req.ID)
			}
			return "", codedError(httpapi.CodeNotFound, "PersistedQueryNotFound")
		}
	}
	if !p.Has(ScopeAdhoc) {
		return "", codedError(httpapi.CodeInsufficientScope, "a free-form document needs the scope %s; send the id or sha256Hash of an approved operation", ScopeAdhoc)
	}
	return req.Query, nil
}

// loadOperation reads an approved operation; a miss waits once for the
// projection to catch up (registered through another instance).
func (s *Server) loadOperation(ctx context.Context, tenant, id string) (projections.GraphQLOperation, error) {
	op, err := projections.GetGraphQLOperation(ctx, s.Store, tenant, id)
	if errors.Is(err, projections.ErrNotFound) && s.CatchUp != nil {
		if cerr := s.CatchUp(ctx); cerr != nil {
			return op, cerr
		}
		op, err = projections.GetGraphQLOperation(ctx, s.Store, tenant, id)
	}
	return op, err
}

// approvedFor reports whether op may be run by p's app.
func approvedFor(op projections.GraphQLOperation, p oauth.Principal) bool {
	for _, a := range op.Apps {
		if a == p.AppID {
			return true
		}
	}
	return false
}

// digest is the hex SHA-256 of a document (the persisted-query hash).
func digest(doc string) string {
	sum := sha256.Sum256([]byte(doc))
	return hex.EncodeToString(sum[:])
}

// coded gives errors without a REST code the one of code.
func coded(errs gqlerror.List, code string) gqlerror.List {
	for _, e := range errs {
		if e.Extensions == nil {
			e.Extensions = map[string]any{}
		}
		if c, ok := e.Extensions["code"].(string); !ok || !isRESTCode(c) {
			e.Extensions["code"] = code
		}
	}
	return errs
}

func isRESTCode(c string) bool {
	for _, k := range httpapi.AllCodes() {
		if k == c {
			return true
		}
	}
	return false
}

// writeResponse answers 200 with r, the response of an operation that
// ran (GraphQL over HTTP: its errors, a field's, are in the body, and
// so is data, null when the error of a non-null field reached it), in
// the media type mt.
func writeResponse(c echo.Context, mt string, r *graphql.Response) error {
	if r == nil {
		r = &graphql.Response{Errors: gqlerror.List{codedError(httpapi.CodeInternal, "internal error")}}
	}
	if pretty(c) || r.Label != "" || r.Path != nil || r.HasNext != nil {
		return writeJSON(c, mt, http.StatusOK, r)
	}
	b, err := encodeResponse(r)
	if err != nil {
		return err
	}
	return writeBody(c, mt, http.StatusOK, b)
}

// encodeResponse is r as c.JSON encodes it, byte for byte, without
// encoding/json's validating copy of r.Data (7 % of a 50-app answer's
// CPU): gqlgen wrote it as valid JSON, so what that copy changes is done
// in one pass (appendEscapedJSON). Responses of incremental delivery
// (label, path, hasNext) are left to c.JSON.
func encodeResponse(r *graphql.Response) ([]byte, error) {
	b := make([]byte, 0, len(r.Data)+64)
	b = append(b, '{')
	if len(r.Errors) > 0 {
		errs, err := json.Marshal(r.Errors)
		if err != nil {
			return nil, err
		}
		b = append(b, `"errors":`...)
		b = append(append(b, errs...), ',')
	}
	b = append(b, `"data":`...)
	if len(r.Data) == 0 {
		b = append(b, "null"...)
	} else {
		b = appendEscapedJSON(b, r.Data)
	}
	if len(r.Extensions) > 0 {
		ext, err := json.Marshal(r.Extensions)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"extensions":`...), ext...)
	}
	return append(b, '}', '\n'), nil
}

// appendEscapedJSON appends the JSON data as encoding/json copies a
// json.RawMessage: compacted (whitespace outside strings dropped: a JSON
// scalar's value is written as it was given) and HTML-safe (<, >, & as
// \u003c, \u003e, \u0026, U+2028 and U+2029 as \u2028, \u2029). data
// is gqlgen's output, valid JSON.
func appendEscapedJSON(b, data []byte) []byte {
	const hex = "0123456789abcdef"
	start, inString := 0, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case inString && c == '\\':
			i++ // the escaped byte cannot end the string
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			b = append(b, data[start:i]...)
			start = i + 1
		case c == '<' || c == '>' || c == '&':
			b = append(b, data[start:i]...)
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			start = i + 1
		case c == 0xE2 && i+2 < len(data) && data[i+1] == 0x80 && data[i+2]&^1 == 0xA8:
			b = append(b, data[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[data[i+2]&0xF])
			i += 2
			start = i + 1
		}
	}
	return append(b, data[start:]...)
}

type principalKey struct{}

func principalOf(ctx context.Context) oauth.Principal {
	p, _ := ctx.Value(principalKey{}).(oauth.Principal)
	return p
}

// newExecutor is gqlgen's executor over the schema, with the transport's
// policy (introspection, depth, cost) and its error presentation.
// What the answer hides (a panic, an internal error's cause) goes to log
// (nil: slog.Default()).
func newExecutor(es graphql.ExecutableSchema, maxDepth, maxCost int, log *slog.Logger) *executor.Executor {
	if log == nil {
		log = slog.Default()
	}
	ex := executor.New(es)
	ex.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	ex.SetParserTokenLimit(MaxTokens)
	ex.Use(policy{es: es, maxDepth: maxDepth, maxCost: maxCost})
	ex.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error { return presentError(ctx, log, err) })
	ex.SetRecoverFunc(func(ctx context.Context, v any) error {
		logPanic(ctx, log, v)
		return codedError(httpapi.CodeInternal, "internal error")
	})
	ex.SetDisableSuggestion(true)
	ex.SetDefaultRulesFn(quietRules)
	return ex
}

// quietRules is gqlparser's validation without any "Did you mean" (the
// names of the schema's fields, arguments, input fields and types near
// the one given): introspection is refused without graphql:introspect,
// and a guess must not spell the schema out either.
// SetDisableSuggestion quiets only the rules of fields and of scalar
// leaves; the rules of arguments, input values and type names are
// replaced here.
func quietRules() *rules.Rules {
	r := rules.NewDefaultRules()
	for _, q := range []struct{ loud, quiet core.Rule }{
		{rules.KnownArgumentNamesRule, rules.KnownArgumentNamesRuleWithoutSuggestions},
		{rules.ValuesOfCorrectTypeRule, rules.ValuesOfCorrectTypeRuleWithoutSuggestions},
		{rules.KnownTypeNamesRule, rules.KnownTypeNamesRuleWithoutSuggestions},
	} {
		r.RemoveRule(q.loud.Name)
		r.AddRule(q.quiet.Name, q.quiet.RuleFunc)
	}
	return r
}

// notInt64 reports whether e is gqlgen's error for an Int64 argument
// that is no 64-bit integer: strconv's error ("strconv.ParseInt: parsing
// \"abc\": invalid syntax") or its own ("bool is not an int64"), Go's text
// rather than the API's. (Int's are gqlparser's, from validation.)
func notInt64(e *gqlerror.Error) bool {
	var num *strconv.NumError
	return errors.As(e.Err, &num) || e.Err != nil && strings.HasSuffix(e.Message, " is not an int64")
}

// presentError keeps the bridge's errors (a REST problem's code) and
// hides anything else behind internal, logging what it hides (an
// internalError's cause, an error that is no *gqlerror.Error) to log.
func presentError(ctx context.Context, log *slog.Logger, err error) *gqlerror.Error {
	var ge *gqlerror.Error
	if errors.As(err, &ge) {
		if ge.Err != nil && ge.Extensions["code"] == httpapi.CodeInternal {
			logHidden(ctx, log, ge.Path, ge.Err)
		}
		out := graphql.DefaultErrorPresenter(ctx, err)
		if out.Extensions == nil || out.Extensions["code"] == nil {
			if notInt64(out) {
				out.Message = "must be a 64-bit integer"
			}
			out = coded(gqlerror.List{out}, httpapi.CodeValidation)[0]
		}
		return out
	}
	logHidden(ctx, log, graphql.GetPath(ctx), err)
	return graphql.DefaultErrorPresenter(ctx, codedError(httpapi.CodeInternal, "internal error"))
}

// numberErrors rewords gqlparser's error for a variable's JSON number
// that is no Int (1.5, 1e100) or no Float (1e400): "cannot use value 0
// as Int" named a value the caller did not send (the failed conversion's
// zero).
func numberErrors(errs gqlerror.List) gqlerror.List {
	for _, e := range errs {
		switch {
		case !strings.HasPrefix(e.Message, "cannot use value "):
		case strings.HasSuffix(e.Message, " as Int"):
			e.Message = "must be an Int: a whole number within 64 bits"
		case strings.HasSuffix(e.Message, " as Float"):
			e.Message = "must be a Float within 64 bits"
		}
	}
	return errs
}

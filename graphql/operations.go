package graphql

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/graphql/generated"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// Approved operations (API.md "GraphQL transport"): a tenant admin
// registers a named operation document for given apps; those apps then
// send its id, or its SHA-256 as an automatic persisted query, instead of
// a document. Registering, listing, reading and withdrawing them needs
// platform:catalog:write, the scope that manages what the tenant's apps
// may ask for: the list is an operation inventory, which integrators do
// not get. An operation is immutable (its id follows from its document);
// changing one is registering the new document and deleting the old, as
// with Hydra's and Keycloak's client policies.

// ScopeOperations manages the approved operations.
const ScopeOperations = "platform:catalog:write"

// nsOperationName is the unique-name namespace of operations' names.
const nsOperationName = "graphql-operation"

// Limits of an operation registration.
const (
	maxOperationName = 100
	maxDocument      = 64 << 10
	maxOperationApps = 100
)

// operationRequest is the body of POST /v1/platform/graphql/operations.
type operationRequest struct {
	Name     string   `json:"name"`
	Document string   `json:"document" text:"multiline"`
	Apps     []string `json:"apps" maxItems:"100"`
}

// operationJSON is an approved operation as the API shows it: the
// document without its tenant and sequence.
type operationJSON struct {
	ID string `json:"id"`
	events.GraphQLOperationRegistered
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	Version   uint64    `json:"version"`
}

func toOperationJSON(op projections.GraphQLOperation) operationJSON {
	out := operationJSON{ID: op.ID, GraphQLOperationRegistered: op.GraphQLOperationRegistered, CreatedAt: op.CreatedAt,
		CreatedBy: op.CreatedBy, Version: op.Version}
	out.Apps = append([]string{}, op.Apps...)
	return out
}

func (s *Server) createOperation(ctx context.Context, c echo.Context, p oauth.Principal, req operationRequest) error {
	req.Name = strings.TrimSpace(req.Name)
	opType, fe, err := s.validateOperation(ctx, p.Tenant, req)
	if err != nil {
		return err
	}
	if len(fe) > 0 {
		return httpapi.Validation(fe...)
	}
	sum := digest(req.Document)
	ref := events.GraphQLOperationRef(p.Tenant, sum)
	_, err = command.Run(ctx, command.Deps{Log: s.Log, WaitFor: s.WaitFor}, func(ctx context.Context, _ int) (command.Decision, error) {
		return s.decideRegister(ctx, p, ref, &events.GraphQLOperationRegistered{
			Name: req.Name, Document: req.Document, SHA256: sum, OperationType: opType, Apps: req.Apps})
	})
	if err != nil {
		return err
	}
	op, err := projections.GetGraphQLOperation(ctx, s.Store, p.Tenant, ref.ID)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/v1/platform/graphql/operations/"+op.ID)
	return authz.Versioned(c, http.StatusCreated, op.Version, toOperationJSON(op))
}

// validateOperation checks the body: the name, a document that is one
// valid query or mutation of the schema, and apps of the tenant.
func (s *Server) validateOperation(ctx context.Context, tenant string, req operationRequest) (string, []httpapi.FieldError, error) {
	var fe []httpapi.FieldError
	add := func(field, msg string) { fe = append(fe, httpapi.FieldError{Field: field, Message: msg}) }
	if n := utf8.RuneCountInString(req.Name); n < 1 || n > maxOperationName {
		add("name", fmt.Sprintf("must be 1 to %d characters", maxOperationName))
	}
	opType := ""
	switch {
	case req.Document == "":
		add("document", "is required")
	case len(req.Document) > maxDocument:
		add("document", fmt.Sprintf("must be at most %d bytes", maxDocument))
	default:
		doc, errs := loadDocument(req.Document)
		switch {
		case len(errs) > 0:
			add("document", "is not a valid operation of the schema: "+errs[0].Message)
		case len(doc.Operations) != 1:
			add("document", "must hold exactly one operation")
		case doc.Operations[0].Operation == ast.Subscription:
			add("document", "must be a query or a mutation")
		default:
			opType = string(doc.Operations[0].Operation)
		}
	}
	unknown, err := s.unknownApps(ctx, tenant, req.Apps)
	if err != nil {
		return "", nil, err
	}
	switch {
	case len(req.Apps) == 0:
		add("apps", "must name at least one app")
	case len(unknown) > 0:
		add("apps", "unknown apps: "+strings.Join(unknown, ", "))
	}
	return opType, fe, nil
}

// unknownApps are the ids of apps that are not the tenant's (quoted).
func (s *Server) unknownApps(ctx context.Context, tenant string, ids []string) ([]string, error) {
	var unknown []string
	for _, id := range ids {
		_, err := authz.Load(ctx, "app", s.CatchUp, func(ctx context.Context) (projections.App, error) {
			return projections.GetApp(ctx, s.Store, tenant, id)
		})
		var prob *httpapi.Problem
		if errors.As(err, &prob) && prob.Code == httpapi.CodeNotFound {
			unknown = append(unknown, strconv.Quote(id))
			continue
		}
		if err != nil {
			return nil, err
		}
	}
	return unknown, nil
}

// decideRegister appends the registration and the name's claim, expecting
// both to be free.
func (s *Server) decideRegister(ctx context.Context, p oauth.Principal, ref events.Ref, ev *events.GraphQLOperationRegistered) (command.Decision, error) {
	if op, err := projections.GetGraphQLOperation(ctx, s.Store, p.Tenant, ref.ID); err == nil {
		return command.Decision{}, httpapi.Conflict(fmt.Sprintf("this document is already approved as operation %s (%q)", op.ID, op.Name))
	} else if !errors.Is(err, projections.ErrNotFound) {
		return command.Decision{}, err
	}
	claim, err := projections.GetNameClaim(ctx, s.Store, p.Tenant, nsOperationName, ev.Name)
	if err != nil {
		return command.Decision{}, err
	}
	if claim.Owner != "" {
		return command.Decision{}, httpapi.Conflict(fmt.Sprintf("an operation named %q already exists in this tenant", ev.Name))
	}
	// A document deleted before is registered again after its deletion.
	last, err := events.LastSeq(ctx, s.Log, ref)
	if err != nil {
		return command.Decision{}, err
	}
	claimed := events.ClaimName(p.Tenant, nsOperationName, ev.Name, ref.ID)
	evs, err := events.NewAll(oauth.ActorOf(p), s.Now(), claimed, events.Change{Ref: ref, Payload: ev})
	return command.Decision{Append: events.Append{Events: evs, Expect: []events.Expect{
		{Ref: claimed.Ref, Seq: claim.LastSeq}, {Ref: ref, Seq: last},
	}}}, err
}

func (s *Server) listOperations(c echo.Context) error {
	return authz.ListPage(c, authz.Listed(c, s.Store, projections.ListGraphQLOperations), toOperationJSON)
}

func opVersion(op projections.GraphQLOperation) uint64 { return op.Version }

func (s *Server) getOperation(c echo.Context) error {
	return authz.Show(c, "graphql operation", s.CatchUp, authz.Named(c, s.Store, projections.GetGraphQLOperation), opVersion, toOperationJSON)
}

// deleteOperation withdraws an approval: the apps' next request by its id
// or hash is refused.
func (s *Server) deleteOperation(c echo.Context) error {
	return authz.Remove(c, authz.Removal[projections.GraphQLOperation]{What: "graphql operation", CatchUp: s.CatchUp,
		Deps: command.Deps{Log: s.Log, WaitFor: s.WaitFor}, Now: s.Now(),
		Get: authz.Named(c, s.Store, projections.GetGraphQLOperation), Version: opVersion,
		Decide: func(_ context.Context, op projections.GraphQLOperation) ([]events.Change, []events.Expect, error) {
			ref := events.GraphQLOperationRef(op.Tenant, op.SHA256)
			return []events.Change{{Ref: ref, Payload: &events.GraphQLOperationDeleted{Name: op.Name}},
					events.ReleaseName(op.Tenant, nsOperationName, op.Name, op.ID)},
				[]events.Expect{{Ref: ref, Seq: op.LastSeq}}, nil
		}})
}

// schema is the parsed schema the registrations are validated against.
var schema = generated.NewExecutableSchema(generated.Config{}).Schema()

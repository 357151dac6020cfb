package projections

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// KindGraphQLOperation is the document kind of a tenant's approved GraphQL
// operations (API.md "GraphQL transport"), by "<tenant>/<id>", sorted by
// registration time. graphql_operation.deleted drops the document: the
// kind holds what is approved now, bounded by what admins register.
const KindGraphQLOperation = "graphql_operation"

// GraphQLOperation is one approved operation document: its registration
// as the event carries it, and who registered it when.
type GraphQLOperation struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	events.GraphQLOperationRegistered
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	Version   uint64    `json:"version"`
	// LastSeq is the aggregate's last sequence: the Expect of its delete.
	LastSeq uint64 `json:"last_seq"`
}

var (
	_ = on(func(tx Tx, e events.Event, p *events.GraphQLOperationRegistered) error {
		op := GraphQLOperation{ID: e.Aggregate.ID, Tenant: e.Tenant(), GraphQLOperationRegistered: *p,
			CreatedAt: e.Time, CreatedBy: e.Actor.ID, Version: 1, LastSeq: e.Seq}
		return putJSON(tx, Doc{Kind: KindGraphQLOperation, ID: e.Tenant() + "/" + e.Aggregate.ID, Tenant: e.Tenant(),
			Sort: SortTime(e.Time) + " " + e.Aggregate.ID}, op)
	})
	_ = on(func(tx Tx, e events.Event, _ *events.GraphQLOperationDeleted) error {
		return tx.Delete(KindGraphQLOperation, e.Tenant()+"/"+e.Aggregate.ID)
	})
)

// GetGraphQLOperation returns tenant's approved operation id, or
// ErrNotFound (also for another tenant's).
func GetGraphQLOperation(ctx context.Context, r Reader, tenant, id string) (GraphQLOperation, error) {
	op, _, err := getView[GraphQLOperation](ctx, r, KindGraphQLOperation, tenant+"/"+id)
	if err == nil && op.Tenant != tenant {
		return GraphQLOperation{}, NotFound("graphql operation", id)
	}
	return op, err
}

// ListGraphQLOperations returns a page of tenant's approved operations,
// oldest first.
func ListGraphQLOperations(ctx context.Context, r Reader, tenant string, p Page) ([]GraphQLOperation, string, error) {
	return listViews[GraphQLOperation](ctx, r, KindGraphQLOperation, tenant, p)
}

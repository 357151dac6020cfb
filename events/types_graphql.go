package events

import (
	"crypto/sha256"
	"encoding/hex"
)

// This file holds the payloads of the GraphQL transport's approved
// operation bundles (API.md "GraphQL transport"): a tenant admin
// registers an operation document for given apps, which then send its id
// or its SHA-256 instead of the document.

// AggGraphQLOperation is the aggregate type of an approved GraphQL
// operation.
const AggGraphQLOperation = "gqlop"

// GraphQLOperationRef is the aggregate of the operation document whose
// SHA-256 (hex) is sum in tenant: the id follows from the document, so
// one document is registered once per tenant (two concurrent
// registrations expect the same empty aggregate).
func GraphQLOperationRef(tenant, sum string) Ref {
	return Ref{Tenant: tenant, Type: AggGraphQLOperation, ID: GraphQLOperationID(sum)}
}

// GraphQLOperationID is the id of the operation whose document's SHA-256
// (hex) is sum.
func GraphQLOperationID(sum string) string {
	b, err := hex.DecodeString(sum)
	if err != nil || len(b) != sha256.Size {
		return ""
	}
	return "gqlop-" + encodeBase32(b[:20])
}

// GraphQLOperationRegistered approves an operation document for Apps
// (aggregate GraphQLOperationRef). Document is the text as given; SHA256
// its hex digest (what an automatic-persisted-query client sends);
// OperationType query or mutation.
type GraphQLOperationRegistered struct {
	Name          string   `json:"name"`
	Document      string   `json:"document"`
	SHA256        string   `json:"sha256"`
	OperationType string   `json:"operation_type"`
	Apps          []string `json:"apps"`
}

// GraphQLOperationDeleted withdraws the approval of an operation.
type GraphQLOperationDeleted struct {
	Name string `json:"name"`
}

package events

import (
	"crypto/sha256"
	"strings"
)

// Unique names (app names in a tenant, tenant names, user e-mails) are
// claimed by appending to an aggregate of their own, so the log itself
// enforces uniqueness: two concurrent claims expect the same version and
// only one append succeeds.

// NameClaimed gives Value in Namespace to Owner.
type NameClaimed struct {
	Namespace string `json:"namespace"`
	Value     string `json:"value"`
	Owner     string `json:"owner"`
}

// NameReleased frees Value in Namespace; Owner is who held it.
type NameReleased struct {
	Namespace string `json:"namespace"`
	Value     string `json:"value"`
	Owner     string `json:"owner"`
}

// AggName is the aggregate type of unique-name claims.
const AggName = "name"

// NameRef is the aggregate holding the claim on value in namespace within
// tenant. Names compare case-insensitively; the ID is a hash so any value
// fits a subject token.
func NameRef(tenant, namespace, value string) Ref {
	sum := sha256.Sum256([]byte(namespace + "\x00" + strings.ToLower(value)))
	return Ref{Tenant: tenant, Type: AggName, ID: namespace + "-" + encodeBase32(sum[:20])}
}

// ClaimName is the change that gives value in namespace within tenant to
// owner: name.claimed on the claim's aggregate (NameRef). The append
// that carries it expects that aggregate at the version the claim was
// read at, so of two concurrent claims one fails.
func ClaimName(tenant, namespace, value, owner string) Change {
	return Change{Ref: NameRef(tenant, namespace, value), Payload: &NameClaimed{Namespace: namespace, Value: value, Owner: owner}}
}

// ReleaseName is the change that frees value in namespace within tenant,
// which owner holds: name.released on the claim's aggregate (NameRef).
func ReleaseName(tenant, namespace, value, owner string) Change {
	return Change{Ref: NameRef(tenant, namespace, value), Payload: &NameReleased{Namespace: namespace, Value: value, Owner: owner}}
}

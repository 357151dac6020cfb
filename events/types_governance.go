package events

import (
	"crypto/sha256"
	"time"
)

// This file holds the payloads of governance (API.md "Apps" scope and
// secret sub-resources, "Scope and event-type catalogs"): the tenant's
// catalogs, scope requests and decisions, and secret rotation.

// ScopeRef is the aggregate of the catalog entry name in tenant. The ID is
// a hash of the name, so any scope name fits a subject token and two
// concurrent definitions of one name expect the same (empty) aggregate:
// the log keeps names unique.
func ScopeRef(tenant, name string) Ref {
	return Ref{Tenant: tenant, Type: AggScope, ID: catalogID("scope", name)}
}

// EventTypeRef is the aggregate of the event-type catalog entry name in
// tenant (see ScopeRef).
func EventTypeRef(tenant, name string) Ref {
	return Ref{Tenant: tenant, Type: AggEventType, ID: catalogID("et", name)}
}

func catalogID(prefix, name string) string {
	sum := sha256.Sum256([]byte(name))
	return prefix + "-" + encodeBase32(sum[:20])
}

// ScopeDefined adds a scope to the tenant's catalog (aggregate ScopeRef).
type ScopeDefined struct {
	Name              string `json:"name"`
	Description       string `json:"description"`
	RequiresApproval  bool   `json:"requires_approval"`
	ApprovalsRequired int    `json:"approvals_required"`
}

// ScopeUpdated changes a catalog scope; a nil field did not change.
// Apps' existing grants keep their status: a changed approval rule applies
// to decisions made after it.
type ScopeUpdated struct {
	Name              string  `json:"name"`
	Description       *string `json:"description,omitempty"`
	RequiresApproval  *bool   `json:"requires_approval,omitempty"`
	ApprovalsRequired *int    `json:"approvals_required,omitempty"`
}

// ScopeDeleted removes a tenant scope from the catalog. Apps keep the
// grant entries they had; a scope no longer in the catalog cannot be
// requested again.
type ScopeDeleted struct {
	Name string `json:"name"`
}

// EventTypeDefined adds an event type to the tenant's catalog (aggregate
// EventTypeRef): subscribing to and receiving it needs Scope approved.
type EventTypeDefined struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Scope       string `json:"scope"`
}

// EventTypeDeleted removes a tenant event type from the catalog.
type EventTypeDeleted struct {
	Name string `json:"name"`
}

// AppScopeRequested adds scope requests to an app (aggregate app), each
// with its first status: "approved" when the catalog needs no approval,
// "pending" otherwise. A scope already pending or approved is not in it; a
// rejected or revoked one may be requested again.
type AppScopeRequested struct {
	Scopes []ScopeGrant `json:"scopes"`
}

// Decisions on an app's grant types and redirect URIs (API.md "Users and
// sign-in": an app's authorization_code grant and each of its
// redirect_uris take effect only once approved) are the scope decisions'
// events with GrantType or RedirectURI set instead of Scope: exactly one
// of the three names what is decided (Subject). Their requests are not
// events of their own: app.created and app.updated name the grant types
// and redirect URIs, and each one added starts pending.

// Subject is what a decision is about: the kind (SubjectScope,
// SubjectGrantType, SubjectRedirectURI) and the name.
type Subject struct {
	Kind string
	Name string
}

// Kinds of what a governance decision is about.
const (
	SubjectScope       = "scope"
	SubjectGrantType   = "grant_type"
	SubjectRedirectURI = "redirect_uri"
)

func subjectOf(scope, grantType, redirectURI string) Subject {
	switch {
	case grantType != "":
		return Subject{SubjectGrantType, grantType}
	case redirectURI != "":
		return Subject{SubjectRedirectURI, redirectURI}
	default:
		return Subject{SubjectScope, scope}
	}
}

// Subject is what the approval is about.
func (p AppScopeApprovalAdded) Subject() Subject {
	return subjectOf(p.Scope, p.GrantType, p.RedirectURI)
}

// Subject is what the approval is about.
func (p AppScopeApproved) Subject() Subject { return subjectOf(p.Scope, p.GrantType, p.RedirectURI) }

// Subject is what the rejection is about.
func (p AppScopeRejected) Subject() Subject { return subjectOf(p.Scope, p.GrantType, p.RedirectURI) }

// Subject is what the revocation is about.
func (p AppScopeRevoked) Subject() Subject { return subjectOf(p.Scope, p.GrantType, p.RedirectURI) }

// AppScopeApprovalAdded records one admin's approval of a pending scope
// that needs more approvals than it has (quorum). The approver is the
// event's actor. Approvals is the count after this one.
type AppScopeApprovalAdded struct {
	Scope             string `json:"scope,omitempty"`
	GrantType         string `json:"grant_type,omitempty"`
	RedirectURI       string `json:"redirect_uri,omitempty"`
	Reason            string `json:"reason,omitempty"`
	Approvals         int    `json:"approvals"`
	ApprovalsRequired int    `json:"approvals_required"`
}

// AppScopeApproved makes a scope approved: its last approval (the actor's)
// completed the quorum. Approvals is the count including this one. Its
// data has the fields of AppScopeApprovalAdded.
type AppScopeApproved AppScopeApprovalAdded

// AppScopeRejected rejects a pending scope request (one rejection rejects,
// whatever approvals it had).
type AppScopeRejected struct {
	Scope       string `json:"scope,omitempty"`
	GrantType   string `json:"grant_type,omitempty"`
	RedirectURI string `json:"redirect_uri,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// AppScopeRevoked withdraws an approved scope: tokens already carrying it
// stop being accepted for it. The grant reads "rejected" afterwards. Its
// data has the fields of AppScopeRejected.
type AppScopeRevoked AppScopeRejected

// AppSecretRotated adds a client secret (by its keyed hash, never the
// secret). Every older secret still live ends at PreviousExpiresAt (or
// keeps an earlier end it already had).
type AppSecretRotated struct {
	SecretID          string    `json:"secret_id"`
	SecretHash        string    `json:"secret_hash"`
	PreviousExpiresAt time.Time `json:"previous_expires_at"`
}

// AppSecretRevoked ends one secret at once.
type AppSecretRevoked struct {
	SecretID string `json:"secret_id"`
}

// ApprovalPolicyRef is the aggregate of tenant's approval policy of
// subject kind (SubjectGrantType, SubjectRedirectURI).
func ApprovalPolicyRef(tenant, kind string) Ref {
	return Ref{Tenant: tenant, Type: AggScope, ID: catalogID("policy", kind)}
}

// ApprovalPolicySet sets how many distinct admin actors must approve an
// app's grant type (Subject SubjectGrantType) or one of its redirect URIs
// (SubjectRedirectURI) before it takes effect: the quorum the scope
// catalog's approvals_required sets for a scope (aggregate
// ApprovalPolicyRef). Grants pending keep the approvals they have; the
// new quorum applies to approvals made after it.
type ApprovalPolicySet struct {
	Subject           string `json:"subject"`
	ApprovalsRequired int    `json:"approvals_required"`
}

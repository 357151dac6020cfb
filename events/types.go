package events

// The table of event types: each payload struct of the types_*.go files
// (one file per area) with its name, the envelope's Type, and its newest
// schema version, the envelope's Schema; after a type whose schema grew,
// the upcaster of its older versions. New, Decode, TypeOf and Types read
// this registry. A name is never reused nor removed: the golden files
// (testdata/golden) pin each type's JSON.
var (
	// types_core.go
	_ = define[SystemBootstrapped]("system.bootstrapped", 1)
	_ = define[TenantCreated]("tenant.created", 1)
	_ = define[AppCreated]("app.created", 1)
	_ = define[AppUpdated]("app.updated", 1)
	_ = define[AppDeleted]("app.deleted", 1)
	_ = define[TokenMinted]("token.minted", 1)
	_ = define[TokenRevoked]("token.revoked", 2)
	_ = upcast("token.revoked", additive) // v1: no grace_seconds, kept DefaultRevocationGrace

	// types_graphql.go
	_ = define[GraphQLOperationRegistered]("graphql_operation.registered", 1)
	_ = define[GraphQLOperationDeleted]("graphql_operation.deleted", 1)

	// types_governance.go
	_ = define[ScopeDefined]("scope.defined", 1)
	_ = define[ScopeUpdated]("scope.updated", 1)
	_ = define[ScopeDeleted]("scope.deleted", 1)
	_ = define[EventTypeDefined]("eventtype.defined", 1)
	_ = define[EventTypeDeleted]("eventtype.deleted", 1)
	_ = define[AppScopeRequested]("app.scope.requested", 1)
	_ = define[AppScopeApprovalAdded]("app.scope.approval_added", 1)
	_ = define[AppScopeApproved]("app.scope.approved", 1)
	_ = define[AppScopeRejected]("app.scope.rejected", 1)
	_ = define[AppScopeRevoked]("app.scope.revoked", 1)
	_ = define[AppSecretRotated]("app.secret.rotated", 1)
	_ = define[AppSecretRevoked]("app.secret.revoked", 1)
	_ = define[ApprovalPolicySet]("approval_policy.set", 1)

	// types_keys.go
	_ = define[KeyCreated]("key.created", 1)
	_ = define[KeyActivated]("key.activated", 1)
	_ = define[KeyRetired]("key.retired", 1)
	_ = define[KeyRemoved]("key.removed", 1)

	// types_names.go
	_ = define[NameClaimed]("name.claimed", 1)
	_ = define[NameReleased]("name.released", 1)

	// types_quota.go
	_ = define[QuotaCounted]("quota.counted", 1)

	// types_users.go
	_ = define[UserCreated]("user.created", 1)
	_ = define[UserUpdated]("user.updated", 1)
	_ = define[UserPasswordChanged]("user.password_changed", 1)
	_ = define[UserDisabled]("user.disabled", 1)
	_ = define[UserEnabled]("user.enabled", 1)
	_ = define[UserDeleted]("user.deleted", 1)

	// types_webhooks.go
	_ = define[WebhookCreated]("webhook.created", 1)
	_ = define[WebhookUpdated]("webhook.updated", 1)
	_ = define[WebhookDeleted]("webhook.deleted", 1)
	_ = define[WebhookSecretRotated]("webhook.secret.rotated", 1)
	_ = define[WebhookDisabled]("webhook.disabled", 1)
	_ = define[EventPublished]("event.published", 2)
	_ = upcast("event.published", additive) // v1: no control_seq, the fan-out waits as it did
	_ = define[DeliveryCreated]("delivery.created", 2)
	_ = upcast("delivery.created", additive) // v1: no retention, the defaults
	_ = define[DeliveryClaimed]("delivery.claimed", 1)
	_ = define[DeliveryAttempted]("delivery.attempted", 1)

	// types_idempotency.go
	_ = define[IdempotencyStarted]("idempotency.started", 2)
	_ = upcast("idempotency.started", additive) // v1: no retain_seconds, kept DefaultIdempotencyRetention
	_ = define[IdempotencyCompleted]("idempotency.completed", 1)
	_ = define[IdempotencyReleased]("idempotency.released", 1)

	// types_clock.go
	_ = define[ClockTicked]("clock.ticked", 1)

	// types_assertions.go
	_ = define[ClientAssertionUsed]("client_assertion.used", 1)

	// types_idp.go
	_ = define[SessionStarted]("session.started", 1)
	_ = define[SessionEnded]("session.ended", 1)
	_ = define[ConsentGranted]("consent.granted", 1)
	_ = define[ConsentWithdrawn]("consent.withdrawn", 1)
	_ = define[AuthCodeIssued]("authz_code.issued", 1)
	_ = define[AuthCodeRedeemed]("authz_code.redeemed", 1)
	_ = define[RefreshRotated]("refresh_token.rotated", 1)
	_ = define[GrantRevoked]("authz_grant.revoked", 1)

	// types_credentials.go
	_ = define[CredentialCreated]("credential.created", 1)
	_ = define[CredentialUpdated]("credential.updated", 1)
	_ = define[CredentialDeleted]("credential.deleted", 1)
	_ = define[CredentialRefreshClaimed]("credential.refresh_claimed", 1)
	_ = define[CredentialTokensStored]("credential.tokens_stored", 1)
	_ = define[CredentialRefreshFailed]("credential.refresh_failed", 1)
	_ = define[CredentialRevoked]("credential.revoked", 1)
	_ = define[CredentialExpiring]("credential.expiring", 1)
	_ = define[CredentialRolledBack]("credential.rolled_back", 1)

	// types_credentials_interactive.go
	_ = define[CredentialAuthStarted]("credential.authorization_started", 1)
	_ = define[CredentialAuthUsed]("credential.authorization_used", 1)
	_ = define[CollectionCreated]("collection.created", 1)
	_ = define[CollectionDeleted]("collection.deleted", 1)
	_ = define[CollectionMemberAdded]("collection.member_added", 1)
	_ = define[CollectionMemberRemoved]("collection.member_removed", 1)
	_ = define[CertificateCreated]("certificate.created", 1)
	_ = define[CertificateDeleted]("certificate.deleted", 1)
	_ = define[CertificateUsed]("certificate.used", 1)
	_ = define[CertificateReleased]("certificate.released", 1)

	// types_credentials_refresh.go
	_ = define[CredentialRefreshClaim]("credential_refresh.claimed", 1)
	_ = define[CredentialRefreshStored]("credential_refresh.stored", 1)
	_ = define[CredentialRefreshAttemptFailed]("credential_refresh.failed", 1)
	_ = define[CredentialRefreshRolledBack]("credential_refresh.rolled_back", 1)
	_ = define[CredentialRefreshSnapshot]("credential_refresh.snapshot", 1)
	_ = define[CredentialRefreshMoved]("credential.refresh_moved", 1)

	// types_activities.go
	_ = define[ActivityRequested]("activity.requested", 1)
	_ = define[ActivityVoted]("activity.voted", 1)
	_ = define[ActivityFinished]("activity.completed", 1)

	// types_par.go
	_ = define[PARPushed]("par.pushed", 1)
	_ = define[PARUsed]("par.used", 1)

	// types_proxy.go
	_ = define[CredentialUsed]("credential.used", 1)
)

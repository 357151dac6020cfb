package events

// This file holds the payloads of a tenant's users (API.md "Users and
// sign-in"). A user is the aggregate AggUser; its e-mail is claimed in the
// namespace NamespaceUserEmail (NameRef) in the same append as
// user.created, so two users of a tenant never share an e-mail (compared
// without case). No payload carries a password or its hash in the clear:
// the argon2id PHC string is sealed (package sealing, purpose
// "password-hash", record the user id), and its member ends in _sealed so
// package redact drops it from everything that leaves the server.

// NamespaceUserEmail is the unique-name namespace of users' e-mails.
const NamespaceUserEmail = "user-email"

// User roles (API.md "Users and sign-in").
const (
	// RoleAdmin gives the user's own tokens the tenant-admin scopes.
	RoleAdmin = "admin"
	// RoleMember gives none.
	RoleMember = "member"
)

// UserCreated registers a user of the tenant.
type UserCreated struct {
	Email string   `json:"email"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	// PasswordHashSealed is the argon2id PHC string of the password,
	// sealed for the user id.
	PasswordHashSealed string `json:"password_hash_sealed"`
}

// UserUpdated carries the new values of the fields a PATCH changed; a nil
// field did not change.
type UserUpdated struct {
	Name  *string   `json:"name,omitempty"`
	Roles *[]string `json:"roles,omitempty"`
}

// UserPasswordChanged replaces the user's password hash.
type UserPasswordChanged struct {
	PasswordHashSealed string `json:"password_hash_sealed"`
}

// UserDisabled stops the user from signing in.
type UserDisabled struct{}

// UserEnabled lets a disabled user sign in again.
type UserEnabled struct{}

// UserDeleted ends a user; its e-mail is released in the same append.
type UserDeleted struct {
	Email string `json:"email"`
}

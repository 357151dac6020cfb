package events

import (
	"time"

	"github.com/gatehouse/gatehouse/internal/jsonenc"
)

// This file holds the payloads of the identity provider's person side
// (API.md "Users and sign-in"): browser sessions, consents, and the
// authorization grants of the code flow with their refresh-token family.
// No payload carries a secret: a session is named by the HMAC of its
// cookie's secret, codes and refresh tokens by the SHA-256 of their
// signatures (package idp).

// Aggregate types of the identity provider.
const (
	// AggSession is a browser session, by the HMAC of its cookie secret
	// (high-volume stream: sessions live hours, not forever).
	AggSession = "session"
	// AggConsent is a user's consents, by user id (control stream).
	AggConsent = "consent"
)

// The aggregate of an authorization grant is AggAuthzSession ("authz"),
// by the grant id (fosite's request id): its code, its redemption and
// its refresh-token family are one subject, so redemption and rotation
// are appends expecting the grant's version.

// SessionStarted records a user's sign-in in a browser.
type SessionStarted struct {
	UserID    string    `json:"user_id"`
	AuthTime  time.Time `json:"auth_time"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Reasons a session ends.
const (
	SessionEndedLogout   = "logout"
	SessionEndedUser     = "user_invalid"
	SessionEndedReplaced = "replaced"
)

// SessionEnded ends a browser session before its expiry.
type SessionEnded struct {
	UserID string `json:"user_id"`
	Reason string `json:"reason"`
}

// ConsentGranted records that the user let the app have Scopes (the
// whole set now consented to, replacing an earlier one).
type ConsentGranted struct {
	AppID    string   `json:"app_id"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
}

// ConsentWithdrawn withdraws the user's consent to the app; the app's
// refresh tokens for the user stop working.
type ConsentWithdrawn struct {
	AppID string `json:"app_id"`
}

// AuthCodeIssued records an authorization code (RFC 6749 §4.1.2) and the
// request it answers. CodeHash is the SHA-256 of the code's signature.
type AuthCodeIssued struct {
	CodeHash        string    `json:"code_hash"`
	AppID           string    `json:"app_id"`
	ClientID        string    `json:"client_id"`
	UserID          string    `json:"user_id"`
	RequestedScopes []string  `json:"requested_scopes"`
	GrantedScopes   []string  `json:"granted_scopes"`
	RedirectURI     string    `json:"redirect_uri,omitempty"`
	CodeChallenge   string    `json:"code_challenge,omitempty"`
	ChallengeMethod string    `json:"code_challenge_method,omitempty"`
	Nonce           string    `json:"nonce,omitempty"`
	AuthTime        time.Time `json:"auth_time"`
	RequestedAt     time.Time `json:"requested_at"`
	ExpiresAt       time.Time `json:"expires_at"`
	// SessionID is the browser session the code was issued in (its
	// aggregate id on AggSession, the HMAC of the cookie's secret): the
	// ID tokens of the grant carry it as sid, which logout's
	// id_token_hint names. Additive: absent in codes issued before it.
	SessionID string `json:"session_id,omitempty"`
}

// AppendJSON appends p as json.Marshal encodes it: a code is issued on
// every authorization of the code flow.
func (p *AuthCodeIssued) AppendJSON(b []byte) ([]byte, error) {
	b, err := p.AppendMembers(append(b, '{'))
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// AppendMembers appends p's members as AppendJSON writes them, without
// the braces: a type that embeds AuthCodeIssued (the projections' grant)
// writes them in place, as json.Marshal does an embedded struct's.
func (p *AuthCodeIssued) AppendMembers(b []byte) ([]byte, error) {
	b = jsonenc.StringMember(b, "code_hash", p.CodeHash)
	b = jsonenc.StringMember(b, "app_id", p.AppID)
	b = jsonenc.StringMember(b, "client_id", p.ClientID)
	b = jsonenc.StringMember(b, "user_id", p.UserID)
	b = jsonenc.Strings(jsonenc.Member(b, "requested_scopes"), p.RequestedScopes)
	b = jsonenc.Strings(jsonenc.Member(b, "granted_scopes"), p.GrantedScopes)
	if p.RedirectURI != "" {
		b = jsonenc.StringMember(b, "redirect_uri", p.RedirectURI)
	}
	if p.CodeChallenge != "" {
		b = jsonenc.StringMember(b, "code_challenge", p.CodeChallenge)
	}
	if p.ChallengeMethod != "" {
		b = jsonenc.StringMember(b, "code_challenge_method", p.ChallengeMethod)
	}
	if p.Nonce != "" {
		b = jsonenc.StringMember(b, "nonce", p.Nonce)
	}
	var err error
	if b, err = jsonenc.TimeMember(b, "auth_time", p.AuthTime); err != nil {
		return nil, err
	}
	if b, err = jsonenc.TimeMember(b, "requested_at", p.RequestedAt); err != nil {
		return nil, err
	}
	if b, err = jsonenc.TimeMember(b, "expires_at", p.ExpiresAt); err != nil {
		return nil, err
	}
	if p.SessionID != "" {
		b = jsonenc.StringMember(b, "session_id", p.SessionID)
	}
	return b, nil
}

// AuthCodeRedeemed records the one redemption of the grant's code: the
// access token it issued and, if any, the first refresh token of the
// family (RefreshHash, the SHA-256 of its signature).
type AuthCodeRedeemed struct {
	JTI              string     `json:"jti"`
	AccessExpiresAt  time.Time  `json:"access_expires_at"`
	RefreshHash      string     `json:"refresh_hash,omitempty"`
	RefreshExpiresAt *time.Time `json:"refresh_expires_at,omitempty"`
}

// AppendJSON appends r as json.Marshal encodes it.
func (r *AuthCodeRedeemed) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	b = jsonenc.StringMember(b, "jti", r.JTI)
	b, err := jsonenc.TimeMember(b, "access_expires_at", r.AccessExpiresAt)
	if err != nil {
		return nil, err
	}
	if r.RefreshHash != "" {
		b = jsonenc.StringMember(b, "refresh_hash", r.RefreshHash)
	}
	if r.RefreshExpiresAt != nil {
		if b, err = jsonenc.TimeMember(b, "refresh_expires_at", *r.RefreshExpiresAt); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// RefreshRotated records one use of the family's live refresh token
// (OldHash): it is used up, NewHash is live, JTI the new access token.
type RefreshRotated struct {
	OldHash          string     `json:"old_hash"`
	NewHash          string     `json:"new_hash"`
	JTI              string     `json:"jti"`
	AccessExpiresAt  time.Time  `json:"access_expires_at"`
	RefreshExpiresAt *time.Time `json:"refresh_expires_at,omitempty"`
}

// AppendJSON appends r as json.Marshal encodes it.
func (r *RefreshRotated) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	b = jsonenc.StringMember(b, "old_hash", r.OldHash)
	b = jsonenc.StringMember(b, "new_hash", r.NewHash)
	b = jsonenc.StringMember(b, "jti", r.JTI)
	b, err := jsonenc.TimeMember(b, "access_expires_at", r.AccessExpiresAt)
	if err != nil {
		return nil, err
	}
	if r.RefreshExpiresAt != nil {
		if b, err = jsonenc.TimeMember(b, "refresh_expires_at", *r.RefreshExpiresAt); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// Reasons a grant is revoked.
const (
	GrantRevokedCodeReuse    = "code_reuse"
	GrantRevokedRefreshReuse = "refresh_reuse"
	GrantRevokedConsent      = "consent_withdrawn"
	GrantRevokedUser         = "user_invalid"
	// GrantRevokedLogout: the person signed out of the admin console,
	// whose session held the family's refresh token.
	GrantRevokedLogout = "logout"
	// GrantRevokedClient: the app revoked the family's refresh token at
	// the revocation endpoint (RFC 7009).
	GrantRevokedClient = "client_revoked"
)

// GrantRevoked ends an authorization grant: its refresh-token family is
// dead and its access tokens are revoked (token.revoked each).
type GrantRevoked struct {
	Reason string `json:"reason"`
}

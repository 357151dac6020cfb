package projections

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/jsonenc"
)

var _ appenderJSON = App{}

// AppendJSON appends a as json.Marshal encodes it: an app's document is
// encoded at each of its events, and at a cold start every app.created
// of the log is (issue 7: reflection was an eighth of the applier's CPU
// replaying 100,000 apps). TestAppAppendJSON compares the two.
func (a App) AppendJSON(b []byte) ([]byte, error) {
	var err error
	b = appendViewHead(b, a.jsonSize(), a.ID, a.Tenant)
	// events.AppSettings, embedded: its members in place.
	s := &a.AppSettings
	b = jsonenc.StringMember(b, "client_id", s.ClientID)
	b = jsonenc.StringMember(b, "name", s.Name)
	b = jsonenc.Strings(jsonenc.Member(b, "grant_types"), s.GrantTypes)
	b = jsonenc.Strings(jsonenc.Member(b, "redirect_uris"), s.RedirectURIs)
	b = jsonenc.StringMember(b, "token_endpoint_auth_method", s.TokenEndpointAuthMethod)
	if len(s.JWKS) > 0 {
		if b, err = rawMember(b, "jwks", s.JWKS); err != nil {
			return nil, err
		}
	}
	b = strconv.AppendBool(jsonenc.Member(b, "active"), s.Active)
	b = jsonenc.IntMember(b, "access_token_ttl_seconds", int64(s.AccessTokenTTLSeconds))
	if s.IDTokenSignedResponseAlg != "" {
		b = jsonenc.StringMember(b, "id_token_signed_response_alg", s.IDTokenSignedResponseAlg)
	}
	if len(a.Metadata) > 0 {
		if b, err = rawMember(b, "metadata", a.Metadata); err != nil {
			return nil, err
		}
	}
	if b, err = appScopes(jsonenc.Member(b, "scopes"), a.Scopes); err != nil {
		return nil, err
	}
	if len(a.Grants) > 0 {
		if b, err = appScopes(jsonenc.Member(b, "grants"), a.Grants); err != nil {
			return nil, err
		}
	}
	if len(a.RedirectURIApprovals) > 0 {
		if b, err = appScopes(jsonenc.Member(b, "redirect_uri_approvals"), a.RedirectURIApprovals); err != nil {
			return nil, err
		}
	}
	if b, err = jsonenc.Array(jsonenc.Member(b, "secrets"), a.Secrets, AppSecret.appendJSON); err != nil {
		return nil, err
	}
	if b, err = jsonenc.TimeMember(b, "created_at", a.CreatedAt); err != nil {
		return nil, err
	}
	if b, err = jsonenc.TimeMember(b, "updated_at", a.UpdatedAt); err != nil {
		return nil, err
	}
	b = jsonenc.StringMember(b, "created_by", a.CreatedBy)
	if b, err = optTimeMember(b, "deactivated_at", a.DeactivatedAt); err != nil {
		return nil, err
	}
	if b, err = optTimeMember(b, "code_flow_killed_at", a.CodeFlowKilledAt); err != nil {
		return nil, err
	}
	b = strconv.AppendUint(jsonenc.Member(b, "version"), a.Version, 10)
	b = strconv.AppendUint(jsonenc.Member(b, "last_seq"), a.LastSeq, 10)
	return append(b, '}'), nil
}

// appScopes appends ss as json.Marshal encodes a []AppScope.
func appScopes(b []byte, ss []AppScope) ([]byte, error) {
	return jsonenc.Array(b, ss, AppScope.appendJSON)
}

// appendJSON appends s as json.Marshal encodes it.
func (s AppScope) appendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, '{')
	b = jsonenc.StringMember(b, "scope", s.Scope)
	b = jsonenc.StringMember(b, "status", string(s.Status))
	if s.DecidedBy != "" {
		b = jsonenc.StringMember(b, "decided_by", s.DecidedBy)
	}
	if b, err = optTimeMember(b, "decided_at", s.DecidedAt); err != nil {
		return nil, err
	}
	if s.Reason != "" {
		b = jsonenc.StringMember(b, "reason", s.Reason)
	}
	if len(s.Approvals) > 0 {
		b = jsonenc.Strings(jsonenc.Member(b, "approvals"), s.Approvals)
	}
	if b, err = optTimeMember(b, "revoked_at", s.RevokedAt); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendJSON appends s as json.Marshal encodes it.
func (s AppSecret) appendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	b = jsonenc.StringMember(b, "id", s.ID)
	b = jsonenc.StringMember(b, "hash", s.Hash)
	b, err := jsonenc.TimeMember(b, "created_at", s.CreatedAt)
	if err != nil {
		return nil, err
	}
	b = jsonenc.Member(b, "expires_at") // not omitempty: null while it has no end
	if s.ExpiresAt == nil {
		b = append(b, "null"...)
	} else if b, err = jsonenc.Time(b, *s.ExpiresAt); err != nil {
		return nil, err
	}
	if s.HeldBy != "" {
		b = jsonenc.StringMember(b, "held_by", s.HeldBy)
	}
	return append(b, '}'), nil
}

// appendViewHead opens, in b grown by size, the JSON object of a view
// whose first members are id and tenant (App, Grant): the document's
// identity, in the order both types declare it.
func appendViewHead(b []byte, size int, id, tenant string) []byte {
	b = slices.Grow(b, size)
	b = append(b, '{')
	b = jsonenc.StringMember(b, "id", id)
	return jsonenc.StringMember(b, "tenant", tenant)
}

// optTimeMember appends the member name with *t, nothing when t is nil
// (a *time.Time that is omitempty).
func optTimeMember(b []byte, name string, t *time.Time) ([]byte, error) {
	if t == nil {
		return b, nil
	}
	return jsonenc.TimeMember(b, name, *t)
}

// rawMember appends the member name with raw as json.Marshal encodes a
// json.RawMessage (compacted, HTML characters escaped, an error when it
// is not JSON): through json.Marshal itself, as such members are rare.
func rawMember(b []byte, name string, raw json.RawMessage) ([]byte, error) {
	enc, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	return append(jsonenc.Member(b, name), enc...), nil
}

// jsonSize is a's JSON length when nothing needs escaping, or a little
// more: its member names and punctuation, numbers, strings and times (at
// most 32 bytes quoted in UTC, 37 in another zone). The document keeps
// the buffer, so the estimate stays close: a seeded app's 631 bytes take
// a 640-byte buffer, as json.Marshal's copy did.
func (a App) jsonSize() int {
	n := 249 + timeSize(a.CreatedAt) + timeSize(a.UpdatedAt) + digits(uint64(max(a.AccessTokenTTLSeconds, 0))) + 1 +
		digits(a.Version) + digits(a.LastSeq) + len(a.ID) + len(a.Tenant) + len(a.ClientID) + len(a.Name) +
		len(a.TokenEndpointAuthMethod) + len(a.IDTokenSignedResponseAlg) + len(a.JWKS) + len(a.Metadata) + len(a.CreatedBy)
	if len(a.JWKS) > 0 || len(a.Metadata) > 0 || len(a.Grants) > 0 || len(a.RedirectURIApprovals) > 0 ||
		a.DeactivatedAt != nil || a.CodeFlowKilledAt != nil {
		n += 101 + 2*37 // the optional members' names, their times
	}
	if a.IDTokenSignedResponseAlg != "" {
		n += 34 // ,"id_token_signed_response_alg":""
	}
	for _, s := range a.GrantTypes {
		n += len(s) + 3
	}
	for _, s := range a.RedirectURIs {
		n += len(s) + 3
	}
	for _, ss := range [][]AppScope{a.Scopes, a.Grants, a.RedirectURIApprovals} {
		for _, s := range ss {
			n += 25 + len(s.Scope) + len(s.Status)
			if s.DecidedAt != nil || s.DecidedBy != "" || s.Reason != "" || len(s.Approvals) > 0 || s.RevokedAt != nil {
				n += 80 + 2*37 + len(s.DecidedBy) + len(s.Reason)
				for _, ap := range s.Approvals {
					n += len(ap) + 3
				}
			}
		}
	}
	for _, s := range a.Secrets {
		n += 65 + timeSize(s.CreatedAt) + len(s.ID) + len(s.Hash) + len(s.HeldBy)
		if s.ExpiresAt != nil {
			n += 37
		}
	}
	return n
}

// timeSize is the most a quoted t takes: RFC 3339 with nanoseconds, and
// Z or a zone offset.
func timeSize(t time.Time) int {
	if t.Location() == time.UTC {
		return 32
	}
	return 37
}

// digits is how many decimal digits n takes.
func digits(n uint64) int {
	d := 1
	for ; n >= 10; n /= 10 {
		d++
	}
	return d
}

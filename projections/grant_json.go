package projections

import (
	"maps"
	"slices"
	"strconv"

	"github.com/gatehouse/gatehouse/internal/jsonenc"
)

// appenderJSON is a view that appends its own JSON, byte for byte what
// json.Marshal writes for it (encodeBody uses it instead of reflection).
type appenderJSON interface {
	AppendJSON(b []byte) ([]byte, error)
}

var (
	_ appenderJSON = Grant{}
	_ appenderJSON = grantToken{}
	_ appenderJSON = usedRefresh{}
)

// AppendJSON appends t as json.Marshal encodes it: one is written at
// every redemption and rotation.
func (t grantToken) AppendJSON(b []byte) ([]byte, error) {
	b = slices.Grow(b, len(t.JTI)+60)
	b = append(b, '{')
	b = jsonenc.StringMember(b, "jti", t.JTI)
	b, err := jsonenc.TimeMember(b, "expires_at", t.ExpiresAt)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// AppendJSON appends u as json.Marshal encodes it: one is written at
// every rotation.
func (u usedRefresh) AppendJSON(b []byte) ([]byte, error) {
	b = slices.Grow(b, len(u.GrantID)+16)
	b = append(b, '{')
	b = jsonenc.StringMember(b, "grant_id", u.GrantID)
	return append(b, '}'), nil
}

// AppendJSON appends g as json.Marshal encodes it: the grant's document
// is encoded at every redemption and rotation (the code and refresh
// benches), and reflection was about a sixth of applying those
// (BenchmarkApplyCodeFlow). TestGrantAppendJSON compares the two.
func (g Grant) AppendJSON(b []byte) ([]byte, error) {
	var err error
	b = appendViewHead(b, g.jsonSize(), g.ID, g.Tenant)
	// events.AuthCodeIssued, embedded: its members in place.
	if b, err = g.AuthCodeIssued.AppendMembers(b); err != nil {
		return nil, err
	}
	b = strconv.AppendBool(jsonenc.Member(b, "redeemed"), g.Redeemed)
	b = jsonenc.Member(b, "tokens")
	switch {
	case g.Tokens == nil:
		b = append(b, "null"...)
	case len(g.Tokens) == 0: // every grant since KindGrantToken: no keys to sort
		b = append(b, "{}"...)
	default:
		b = append(b, '{')
		for i, jti := range slices.Sorted(maps.Keys(g.Tokens)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(jsonenc.String(b, jti), ':')
			if b, err = jsonenc.Time(b, g.Tokens[jti]); err != nil {
				return nil, err
			}
		}
		b = append(b, '}')
	}
	if !g.TokensUntil.IsZero() {
		if b, err = jsonenc.TimeMember(b, "tokens_until", g.TokensUntil); err != nil {
			return nil, err
		}
	}
	if g.Refresh != "" {
		b = jsonenc.StringMember(b, "refresh", g.Refresh)
	}
	if len(g.Used) > 0 {
		b = jsonenc.Strings(jsonenc.Member(b, "used"), g.Used)
	}
	if g.Rotations != 0 {
		b = jsonenc.IntMember(b, "rotations", int64(g.Rotations))
	}
	if g.RefreshExpiresAt != nil {
		if b, err = jsonenc.TimeMember(b, "refresh_expires_at", *g.RefreshExpiresAt); err != nil {
			return nil, err
		}
	}
	if b, err = jsonenc.TimeMember(b, "last_used", g.LastUsed); err != nil {
		return nil, err
	}
	if g.LastJTI != "" {
		b = jsonenc.StringMember(b, "last_jti", g.LastJTI)
	}
	if g.Revoked != "" {
		b = jsonenc.StringMember(b, "revoked", g.Revoked)
	}
	b = strconv.AppendUint(jsonenc.Member(b, "last_seq"), g.LastSeq, 10)
	return append(b, '}'), nil
}

// jsonSize is about the length of g's JSON, a little more when nothing
// needs escaping: its member names, punctuation, numbers and times (a time with
// nanoseconds and a zone is 37 bytes quoted) and its strings.
func (g Grant) jsonSize() int {
	p := &g.AuthCodeIssued
	n := 360 + 6*37 + len(g.ID) + len(g.Tenant) + len(p.CodeHash) + len(p.AppID) + len(p.ClientID) + len(p.UserID) +
		len(p.RedirectURI) + len(p.CodeChallenge) + len(p.ChallengeMethod) + len(p.Nonce) +
		len(g.Refresh) + len(g.LastJTI) + len(g.Revoked)
	for _, s := range p.RequestedScopes {
		n += len(s) + 3
	}
	for _, s := range p.GrantedScopes {
		n += len(s) + 3
	}
	for _, s := range g.Used {
		n += len(s) + 3
	}
	for jti := range g.Tokens {
		n += len(jti) + 41
	}
	return n
}

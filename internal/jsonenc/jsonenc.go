// Package jsonenc appends JSON values as encoding/json's Marshal writes
// them, for the few hot-path documents (token claims, the token
// endpoint's answer) whose reflection-driven encoding was a measurable
// part of a token request's CPU. Their types' tests compare the bytes
// with json.Marshal's.
package jsonenc

import (
	"encoding/json"
	"strconv"
	"time"
)

// String appends s as json.Marshal encodes it: quoted as it is when it
// holds printable ASCII only, none of which JSON or json.Marshal's HTML
// escaping changes (tokens, scopes, ids); through json.Marshal otherwise.
func String(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plain[s[i]] {
			enc, _ := json.Marshal(s) // a string always encodes
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plain marks the bytes String copies as they are: printable ASCII but
// '"', '\\' and the three json.Marshal escapes for HTML. A table: the
// token endpoint's answer is about 1.5 KB of tokens, checked byte by byte.
var plain = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// Strings appends ss as json.Marshal encodes a []string: null when nil.
func Strings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = String(b, s)
	}
	return append(b, ']')
}

// Array appends items as json.Marshal encodes a slice of them: null when
// nil, else each appended by elem (a method expression such as
// AppScope.appendJSON), comma-separated. An error of elem is Array's.
func Array[T any](b []byte, items []T, elem func(T, []byte) ([]byte, error)) ([]byte, error) {
	if items == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = elem(it, b); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// Member appends `,"name":` (no comma before the first member, when b
// ends with '{'); name must need no escaping.
func Member(b []byte, name string) []byte {
	if len(b) > 0 && b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// StringMember appends the member name with the string value s.
func StringMember(b []byte, name, s string) []byte {
	return String(Member(b, name), s)
}

// Time appends t as its MarshalJSON does: RFC 3339 with sub-second
// precision, quoted; an error for a year it cannot write.
func Time(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return nil, err
	}
	return append(b, '"'), nil
}

// TimeMember appends the member name with the time t.
func TimeMember(b []byte, name string, t time.Time) ([]byte, error) {
	return Time(Member(b, name), t)
}

// IntMember appends the member name with the integer value n.
func IntMember(b []byte, name string, n int64) []byte {
	return strconv.AppendInt(Member(b, name), n, 10)
}

// ClaimsHead opens a JWT claims object with its first members iss, sub
// and aud (RFC 7519 §4.1.1-3), in the order both of Gatehouse's claims
// types declare them.
func ClaimsHead(b []byte, iss, sub string, aud []string) []byte {
	b = append(b, '{')
	b = StringMember(b, "iss", iss)
	b = StringMember(b, "sub", sub)
	return Strings(Member(b, "aud"), aud)
}

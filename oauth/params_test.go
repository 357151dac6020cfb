package oauth

import (
	"net/url"
	"testing"
)

func TestRepeatedParam(t *testing.T) {
	for _, tc := range []struct {
		form string
		want string
	}{
		{"grant_type=a&code=b", ""},
		{"code=b&code=c&grant_type=a&grant_type=a", "code"},
		// RFC 8707 / RFC 8693 let resource and audience repeat; the
		// handler decides (token exchange: invalid_target).
		{"resource=a&resource=b&audience=x&audience=y", ""},
		{"resource=a&resource=b&scope=x&scope=y", "scope"},
	} {
		form, err := url.ParseQuery(tc.form)
		if err != nil {
			t.Fatal(err)
		}
		if got := RepeatedParam(form); got != tc.want {
			t.Errorf("RepeatedParam(%q) = %q, want %q", tc.form, got, tc.want)
		}
	}
}

// TestBearerOf pins the reading of an Authorization header that every
// bearer endpoint shares (RFC 6750 §2.1): the scheme without case, the
// token trimmed, anything else no bearer token.
func TestBearerOf(t *testing.T) {
	for _, c := range []struct {
		h     string
		token string
		ok    bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER  abc ", "abc", true},
		{"Bearer ", "", false},
		{"Bearer", "", false},
		{"Basic YWJj", "", false},
		{"Bearerabc", "", false},
		{"", "", false},
	} {
		token, ok := BearerOf(c.h)
		if token != c.token || ok != c.ok {
			t.Errorf("BearerOf(%q) = %q, %v; want %q, %v", c.h, token, ok, c.token, c.ok)
		}
	}
}

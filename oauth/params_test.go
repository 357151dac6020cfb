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

package idp

import (
	"net/url"
	"regexp"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/oauth"
)

// s256Challenge is an S256 code_challenge: BASE64URL(SHA256(verifier))
// without padding, 43 characters (RFC 7636 §4.2).
var s256Challenge = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// frontParams are the parameters an authorization request may not repeat
// even to be answered at its redirect URI: they say which client and
// which URI that would be (RFC 6749 §4.1.2.1), so a repeat of one gets
// the error page.
var frontParams = []string{"client_id", "redirect_uri", "request_uri"}

// repeatedFront is the invalid_request of a repeated frontParams member.
func repeatedFront(form url.Values) error {
	for _, k := range frontParams {
		if len(form[k]) > 1 {
			return oauth.ErrRepeatedParam(k)
		}
	}
	return nil
}

// checkAuthorizeForm holds an authorization request to the rules fosite
// leaves out: no parameter more than once (RFC 6749 §3.1) and a
// well-formed S256 code_challenge.
func checkAuthorizeForm(form url.Values) error {
	if name := oauth.RepeatedParam(form); name != "" {
		return oauth.ErrRepeatedParam(name)
	}
	return checkChallenge(form)
}

// checkChallenge refuses a code_challenge no code_verifier can match.
func checkChallenge(form url.Values) error {
	if ch := form.Get("code_challenge"); ch != "" && !s256Challenge.MatchString(ch) {
		return fosite.ErrInvalidRequest.WithHint("The code_challenge must be the 43-character base64url encoding of a SHA-256 digest (RFC 7636 §4.2).")
	}
	return nil
}

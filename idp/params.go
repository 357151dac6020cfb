package idp

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

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
// leaves out: no parameter more than once (RFC 6749 §3.1) and the
// parameters of checkParams.
func checkAuthorizeForm(form url.Values) error {
	if name := oauth.RepeatedParam(form); name != "" {
		return oauth.ErrRepeatedParam(name)
	}
	return checkParams(form)
}

// checkParams holds an authorization request, plain or pushed, to what
// fosite does not check of its values: a well-formed S256 code_challenge,
// prompt and max_age as OpenID Connect Core §3.1.2.1 defines them. Each
// is invalid_request, answered at the redirect URI fosite validated.
func checkParams(form url.Values) error {
	if err := checkChallenge(form); err != nil {
		return err
	}
	if err := checkPrompt(form.Get("prompt")); err != nil {
		return err
	}
	_, _, err := maxAge(form.Get("max_age"))
	return err
}

// checkPrompt refuses a prompt with a value OpenID Connect Core §3.1.2.1
// does not define (oauth.PromptValues), and none with any other value ("If this parameter
// contains none with any other value, an error is returned").
func checkPrompt(v string) error {
	prompt := strings.Fields(v)
	for _, s := range prompt {
		if !slices.Contains(oauth.PromptValues, s) {
			return fosite.ErrInvalidRequest.WithHintf("The prompt value '%s' is not supported: use none, login, consent or select_account.", s)
		}
	}
	if slices.Contains(prompt, "none") && len(prompt) > 1 {
		return fosite.ErrInvalidRequest.WithHint("prompt=none cannot be combined with other values.")
	}
	return nil
}

// maxAge reads max_age (OpenID Connect Core §3.1.2.1: the allowable
// elapsed time in seconds since the user last authenticated, a
// non-negative integer); ok is false when v is empty, and a value that is
// no such number is invalid_request.
func maxAge(v string) (seconds uint64, ok bool, err error) {
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(v, 10, 63)
	if err != nil {
		return 0, false, fosite.ErrInvalidRequest.WithHint("The max_age must be a non-negative number of seconds.")
	}
	return n, true, nil
}

// checkChallenge refuses a code_challenge no code_verifier can match.
func checkChallenge(form url.Values) error {
	if ch := form.Get("code_challenge"); ch != "" && !s256Challenge.MatchString(ch) {
		return fosite.ErrInvalidRequest.WithHint("The code_challenge must be the 43-character base64url encoding of a SHA-256 digest (RFC 7636 §4.2).")
	}
	return nil
}

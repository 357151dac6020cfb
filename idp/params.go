package idp

import (
	"context"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/oauth"
)

// s256Challenge is an S256 code_challenge: BASE64URL(SHA256(verifier))
// without padding, 43 characters (RFC 7636 section 4.2).
var s256Challenge = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// plainChallenge is a plain code_challenge: the code_verifier itself, 43
// to 128 characters of the unreserved set (RFC 7636 section 4.1).
var plainChallenge = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

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
// fosite does not check of its values: prompt and max_age as OpenID
// Connect Core §3.1.2.1 defines them. Each is invalid_request, answered
// at the redirect URI fosite validated (PKCE: checkPKCE).
func checkParams(form url.Values) error {
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

// pkceRules is what fosite's PKCE handler (pkce.Handler) reads of the
// provider's configuration.
type pkceRules interface {
	fosite.EnforcePKCEProvider
	fosite.EnforcePKCEForPublicClientsProvider
	fosite.EnablePKCEPlainChallengeMethodProvider
}

// checkPKCE holds an authorization request, plain or pushed, to RFC 7636
// as fosite's PKCE handler holds the code's exchange, with the same
// configuration (rules: EnforcePKCE, EnforcePKCEForPublicClients,
// EnablePKCEPlainChallengeMethod), so that a request it would refuse at
// the token endpoint is refused here, before the login page, and one it
// takes is taken here. Two rules fosite lacks come on top, each refusing
// a request no code of which could be redeemed as the client meant: a
// code_challenge_method without a code_challenge (fosite ignores the
// method, and the code would be issued without PKCE), and a
// code_challenge no code_verifier can match (RFC 7636 §4.1, §4.2: S256's
// 43 base64url characters, plain's 43 to 128 unreserved ones). Every
// refusal is invalid_request (RFC 7636 §4.4.1).
func checkPKCE(ctx context.Context, rules pkceRules, ar fosite.AuthorizeRequester) error {
	f := ar.GetRequestForm()
	challenge, method := f.Get("code_challenge"), f.Get("code_challenge_method")
	if challenge == "" {
		switch {
		case method != "":
			return fosite.ErrInvalidRequest.WithHint("Missing parameter: code_challenge (a code_challenge_method was sent without one).")
		case rules.GetEnforcePKCE(ctx):
			return fosite.ErrInvalidRequest.WithHint("Clients must include a code_challenge when performing the authorize code flow, but it is missing.")
		case rules.GetEnforcePKCEForPublicClients(ctx) && ar.GetClient().IsPublic():
			return fosite.ErrInvalidRequest.WithHint("This client must include a code_challenge when performing the authorize code flow, but it is missing.")
		}
		return nil
	}
	well := s256Challenge
	switch method {
	case "S256":
	case "", "plain": // no method is plain (RFC 7636 §4.3)
		if !rules.GetEnablePKCEPlainChallengeMethod(ctx) {
			return fosite.ErrInvalidRequest.WithHint("Clients must use code_challenge_method=S256, plain is not allowed.")
		}
		well = plainChallenge
	default:
		return fosite.ErrInvalidRequest.WithHint("The code_challenge_method is not supported, use S256 instead.")
	}
	if !well.MatchString(challenge) {
		if well == s256Challenge {
			return fosite.ErrInvalidRequest.WithHint("The code_challenge must be the 43-character base64url encoding of a SHA-256 digest (RFC 7636 section 4.2).")
		}
		return fosite.ErrInvalidRequest.WithHint("The code_challenge must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_', '~' (RFC 7636 section 4.1).")
	}
	return nil
}

package idp

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/oauth"
)

// The authorization endpoint's answer to a request it grants (RFC 6749
// §4.1.2), issued by the identity provider itself rather than through
// fosite's NewAuthorizeResponse with its explicit-grant and PKCE handlers
// (which the token endpoint still uses). Those issued the code, its
// authz_code.issued durable in the log, before the PKCE handler looked
// at code_challenge_method: a request refused for its PKCE left a code in
// the log that no client ever received (invariant 5: bad input changes
// nothing). They also copied the request twice (Sanitize) for a storage
// that reads four of its parameters, checked again the scopes and the
// audience NewAuthorizeRequest had just checked, and built the redirect
// through two url.Values.

// checkIssue is what can still refuse a code to a request
// authorizeRequest accepted (fosite's NewAuthorizeRequest, and PKCE as
// fosite's handler will hold the code's exchange to it: checkPKCE, before
// any page), before anything is written: the code flow only, a redirect
// URI of a secure scheme (fosite's check, the configured one).
func (p *IdP) checkIssue(ctx context.Context, ar fosite.AuthorizeRequester) error {
	if !ar.GetResponseTypes().ExactOne("code") {
		return fosite.ErrUnsupportedResponseType.WithHint("The only response_type is 'code'.")
	}
	if !p.fc.GetRedirectSecureChecker(ctx)(ctx, ar.GetRedirectURI()) {
		return fosite.ErrInvalidRequest.WithHint("Redirect URL is using an insecure protocol, http is only allowed for hosts with suffix 'localhost', for example: http://myapp.localhost/.")
	}
	return nil
}

// issueCode issues the code of ar, which checkIssue passed, to the
// session sess: authz_code.issued through the storage (durable before it
// returns), the code living the provider's AuthorizeCodeLifespan. ctx
// carries the issue (issueKey).
func (p *IdP) issueCode(ctx context.Context, ar fosite.AuthorizeRequester, sess *oauth.Session) (string, error) {
	ar.SetSession(sess)
	code, signature, err := p.codes.GenerateAuthorizeCode(ctx, ar)
	if err != nil {
		return "", fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	sess.SetExpiresAt(fosite.AuthorizeCode, time.Now().UTC().Add(p.fc.GetAuthorizeCodeLifespan(ctx)))
	if err := p.grants.CreateAuthorizeCodeSession(ctx, signature, ar); err != nil {
		return "", fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	return code, nil
}

// redirectCode answers with the redirect to the client's redirect URI
// carrying code, scope and state (RFC 6749 §4.1.2), as fosite wrote it,
// and iss, the issuer (RFC 9207 §2): the URI's own query and those four
// re-encoded in the order of their names (url.Values.Encode); no state
// when the request had none (it relied on PKCE: oauth.StateOrPKCE).
func redirectCode(c echo.Context, ar fosite.AuthorizeRequester, code, iss string) error {
	u := *ar.GetRedirectURI()
	scope := strings.Join(ar.GetGrantedScopes(), " ")
	state := ""
	if ar.GetState() != "" {
		state = "&state=" + url.QueryEscape(ar.GetState())
	}
	if u.RawQuery == "" {
		u.RawQuery = "code=" + url.QueryEscape(code) + "&iss=" + url.QueryEscape(iss) + "&scope=" + url.QueryEscape(scope) + state
	} else {
		q := u.Query()
		q.Set("code", code)
		q.Set("iss", iss)
		q.Set("scope", scope)
		if state != "" {
			q.Set("state", ar.GetState())
		}
		u.RawQuery = q.Encode()
	}
	return c.Redirect(http.StatusSeeOther, u.String())
}

// formPostTemplate is the page of an authorization answer to a request
// that named response_mode=form_post (OAuth 2.0 Form Post Response Mode
// §2), which is the refusal of that mode (unsupported_response_mode,
// oauth.ResponseModes): the answer's parameters and iss, the issuer (RFC
// 9207 §2), as the hidden fields of a form the page posts to the
// redirect URI.
func formPostTemplate(iss string) *template.Template {
	return template.Must(template.New("form_post").Funcs(template.FuncMap{"iss": func() string { return iss }}).Parse(`<!doctype html>
<html><head><title>Submit this form</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="{{.RedirURL}}">
{{range $name, $values := .Parameters}}{{range $values}}<input type="hidden" name="{{$name}}" value="{{.}}">
{{end}}{{end}}<input type="hidden" name="iss" value="{{iss}}">
<noscript><button type="submit">Continue</button></noscript>
</form></body></html>`))
}

package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/ory/fosite"
)

// Client authentication at the token, introspection and revocation
// endpoints (RFC 6749 §2.3, RFC 7523 §3, OpenID Connect Core §9). It
// replaces fosite's default strategy, which insists that a secret client
// use exactly its registered method, wants one signing algorithm per
// client, keys marked "use":"sig", and checks and records a jti in two
// steps (two instances could both accept it).
//
// The rules: a client registered with client_secret_basic or
// client_secret_post may send its secret either way (both prove the same
// secret); a private_key_jwt client authenticates only with an assertion;
// a public client ("none") sends its client_id and no credential. More
// than one method in one request is invalid_request (RFC 6749 §2.3).

// clientAssertionType is the client_assertion_type of RFC 7523 §2.2.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// clientAuthenticator is fosite's ClientAuthenticationStrategy.
type clientAuthenticator struct {
	clients    fosite.ClientManager
	hasher     fosite.Hasher
	assertions *assertionVerifier
}

// authenticate implements fosite.ClientAuthenticationStrategy.
func (a *clientAuthenticator) authenticate(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
	if t := form.Get("client_assertion_type"); t != "" || form.Get("client_assertion") != "" {
		return a.byAssertion(ctx, r, form, t)
	}
	id, secret, err := secretCredentials(r, form)
	if err != nil {
		return nil, err
	}
	cl, err := a.client(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := a.checkSecret(ctx, cl, secret); err != nil {
		return cl, err
	}
	MemoOf(ctx).authenticated(cl)
	return cl, nil
}

// byAssertion authenticates with a client assertion (RFC 7523 §2.2).
func (a *clientAuthenticator) byAssertion(ctx context.Context, r *http.Request, form url.Values, typ string) (fosite.Client, error) {
	if typ != clientAssertionType {
		return nil, fosite.ErrInvalidRequest.WithHint("The client_assertion_type must be '" + clientAssertionType + "'.")
	}
	if _, _, basic := r.BasicAuth(); basic || form.Get("client_secret") != "" {
		return nil, errManyMethods
	}
	cl, err := a.assertions.authenticate(ctx, r, form, a.client)
	if err == nil {
		MemoOf(ctx).authenticated(cl)
	}
	return cl, err
}

// errManyMethods answers a request using more than one client
// authentication method (RFC 6749 §2.3).
var errManyMethods = fosite.ErrInvalidRequest.WithHint("The request uses more than one client authentication method; use exactly one.")

// errBadClient is the one answer to an unknown client, a wrong secret or a
// refused assertion: which of them it was is not the caller's business
// (RFC 6749 §5.2 invalid_client).
func errBadClient(hint string) error { return fosite.ErrInvalidClient.WithHint(hint) }

// secretCredentials reads the client_id and secret of client_secret_basic
// (RFC 6749 §2.3.1: form-encoded, then Basic) or client_secret_post, or the
// bare client_id of a public client.
func secretCredentials(r *http.Request, form url.Values) (id, secret string, err error) {
	user, pass, basic := r.BasicAuth()
	if !basic {
		return form.Get("client_id"), form.Get("client_secret"), nil
	}
	if form.Get("client_secret") != "" {
		return "", "", errManyMethods
	}
	if id, err = url.QueryUnescape(user); err != nil {
		return "", "", fosite.ErrInvalidRequest.WithHint("The client_id in the Basic credentials is not form-encoded (RFC 6749 §2.3.1).")
	}
	if secret, err = url.QueryUnescape(pass); err != nil {
		return "", "", fosite.ErrInvalidRequest.WithHint("The client secret in the Basic credentials is not form-encoded (RFC 6749 §2.3.1).")
	}
	if f := form.Get("client_id"); f != "" && f != id {
		return "", "", fosite.ErrInvalidRequest.WithHint("The client_id of the form differs from the one of the Basic credentials.")
	}
	return id, secret, nil
}

// client looks up the client id. An unknown (or inactive) client is
// invalid_client; a store that cannot answer is its own error, which the
// endpoint answers 503.
func (a *clientAuthenticator) client(ctx context.Context, id string) (*Client, error) {
	if id == "" {
		return nil, errNoClientAuth
	}
	cl, err := a.clients.GetClient(ctx, id)
	if errors.Is(err, fosite.ErrNotFound) {
		return nil, errBadClient("The client is unknown, inactive, or its credentials are wrong.")
	}
	if err != nil {
		return nil, err
	}
	return cl.(*Client), nil
}

// checkSecret checks the secret a client sent against its method: a
// secret method needs a live secret that matches, a public client must
// send none, and a private_key_jwt client must send an assertion.
func (a *clientAuthenticator) checkSecret(ctx context.Context, cl *Client, secret string) error {
	switch cl.AuthMethod {
	case "none":
		if secret != "" {
			return errBadClient("The client is public (token_endpoint_auth_method none): it has no secret to send.")
		}
		return nil
	case "private_key_jwt":
		return errBadClient("The client authenticates with private_key_jwt: send a client_assertion (RFC 7523).")
	}
	if secret == "" {
		return errBadClient("The client secret is missing.")
	}
	for _, h := range cl.Hashes {
		if a.hasher.Compare(ctx, h, []byte(secret)) == nil {
			return nil
		}
	}
	return errBadClient("The client is unknown, inactive, or its credentials are wrong.")
}

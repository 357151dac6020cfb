package idp

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/par"

	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// PARTTL is the longest a pushed authorization request's request_uri may
// be used (RFC 9126 §2.2: short; API.md: ≤ 60 s); Config.PARTTL may be
// shorter.
const PARTTL = 60 * time.Second

// Pushed authorization requests (RFC 9126). POST /v1/oauth/par (package
// oauth: the token endpoint's client authentication, limits and error
// writer) validates the request with fosite and hands it to fosite's
// PushedAuthorizeHandler, whose storage is pushed below: par.pushed on
// the log, named by the SHA-256 of the request_uri's random part, with
// the request's parameters (client authentication left out) and its
// expiry, so any instance can serve the authorization leg.
//
// The authorization endpoint resolves request_uri + client_id itself
// (authorizeRequest): the pushed request must exist, be unused, not
// expired, and belong to the client_id presented; its parameters alone
// are the request (RFC 9126 §4). The round trip through /login and
// /consent carries request_uri and client_id in return_to, not the
// parameters, and a par_done marker per page the user acted on (which
// takes that step out of the pushed prompt, and max_age after a login,
// as returnTo does for a plain request). The request_uri is consumed
// (par.used, expecting the pushed request's version: of two uses racing,
// one wins) when the code is issued, so the round trip does not use it
// up and it is single-use for what matters: one code per pushed request.

// parParams are the authorization request parameters a pushed request
// keeps; the client's credentials are never among them.
var parParams = []string{"response_type", "redirect_uri", "scope", "state", "nonce", "code_challenge",
	"code_challenge_method", "prompt", "max_age", "login_hint", "id_token_hint", "response_mode", "ui_locales", "display", "acr_values"}

// pushed is fosite's PARStorage on the log. The authorization endpoint
// does not go through fosite's PAR lookup (authorizeRequest does), so
// Get and Delete are never called.
type pushed struct{ idp *IdP }

var _ fosite.PARStorage = (*pushed)(nil)

// parID is what the log knows of request_uri: the SHA-256 of its random
// part.
func parID(requestURI string) string {
	return hashOf(strings.TrimPrefix(requestURI, oauth.PARRequestURIPrefix))
}

// CreatePARSession implements fosite.PARStorage: par.pushed.
func (s *pushed) CreatePARSession(ctx context.Context, requestURI string, ar fosite.AuthorizeRequester) error {
	cl, ok := ar.GetClient().(*oauth.Client)
	if !ok {
		return fosite.ErrInvalidClient
	}
	form := ar.GetRequestForm()
	params := map[string][]string{}
	for _, k := range parParams {
		if v, ok := form[k]; ok {
			params[k] = slices.Clone(v)
		}
	}
	ref := events.Ref{Tenant: cl.Tenant, Type: events.AggPAR, ID: parID(requestURI)}
	ev, err := events.New(ref, events.Actor{Kind: events.ActorApp, ID: cl.AppID}, s.idp.now(), &events.PARPushed{
		AppID: cl.AppID, ClientID: cl.ClientID, Params: params, ExpiresAt: s.idp.now().Add(s.idp.cfg.PARTTL).UTC(),
	})
	if err != nil {
		return err
	}
	_, err = command.Run(ctx, command.Deps{Log: s.idp.cfg.Log, WaitFor: s.idp.cfg.WaitFor, Attempts: 1},
		func(context.Context, int) (command.Decision, error) {
			return command.Decision{Append: events.Append{Events: []events.Event{ev}, Expect: []events.Expect{{Ref: ref, Seq: 0}}}}, nil
		})
	return err
}

// GetPARSession implements fosite.PARStorage (unused: see pushed).
func (s *pushed) GetPARSession(context.Context, string) (fosite.AuthorizeRequester, error) {
	return nil, fosite.ErrNotFound
}

// DeletePARSession implements fosite.PARStorage (unused: see pushed).
func (s *pushed) DeletePARSession(context.Context, string) error { return nil }

// checkPushed is the identity provider's rules for a pushed request
// beyond fosite's: the code flow only, PKCE as the code's exchange will
// hold it (checkPKCE), prompt, max_age and id_token_hint, as the
// authorization endpoint would answer later (checkIssue, checkParams,
// idTokenHint): a 400 at push time rather than an error redirect later.
func (p *IdP) checkPushed(ctx context.Context, ar fosite.AuthorizeRequester) error {
	if !ar.GetResponseTypes().ExactOne("code") {
		return fosite.ErrUnsupportedResponseType.WithHint("The only response_type is 'code'.")
	}
	if err := checkPKCE(ctx, p.fc, ar); err != nil {
		return err
	}
	if err := checkParams(ar.GetRequestForm()); err != nil {
		return err
	}
	cl, ok := ar.GetClient().(*oauth.Client)
	if !ok {
		return fosite.ErrInvalidClient
	}
	_, err := p.idTokenHint(ar.GetRequestForm().Get("id_token_hint"), cl)
	return err
}

// configurePAR sets the provider's PAR settings and appends fosite's PAR
// handler with the log as its storage.
func configurePAR(fc *fosite.Config, p *IdP) {
	fc.PushedAuthorizeRequestURIPrefix = oauth.PARRequestURIPrefix
	fc.PushedAuthorizeContextLifespan = p.cfg.PARTTL
	fc.IsPushedAuthorizeEnforced = false
	fc.PushedAuthorizeEndpointHandlers.Append(&par.PushedAuthorizeHandler{Storage: &pushed{idp: p}, Config: fc})
}

// errPAR is the answer to a request_uri that cannot be used.
func errPAR(hint string) error { return fosite.ErrInvalidRequestURI.WithHint(hint) }

// authorizeRequest is fosite's authorization request of r, from a pushed
// request when r names one (request_uri): then its parameters, with
// client_id checked against the pushed request's and the steps done
// (par_done) taken out of prompt. Its PKCE is checked (checkPKCE) before
// the caller shows any page: an error is answered at the redirect URI
// fosite validated, before the person signs in rather than after.
func (p *IdP) authorizeRequest(ctx context.Context, r *http.Request) (fosite.AuthorizeRequester, *projections.PAR, error) {
	ar, rec, err := p.parseAuthorize(ctx, r)
	if err == nil {
		err = checkPKCE(ctx, p.fc, ar)
	}
	return ar, rec, err
}

// parseAuthorize is authorizeRequest less its PKCE check.
func (p *IdP) parseAuthorize(ctx context.Context, r *http.Request) (fosite.AuthorizeRequester, *projections.PAR, error) {
	if err := r.ParseForm(); err != nil {
		return nil, nil, fosite.ErrInvalidRequest.WithHint("The request could not be parsed.")
	}
	if err := repeatedFront(r.Form); err != nil {
		return nil, nil, err
	}
	uri := r.Form.Get("request_uri")
	if uri == "" {
		object := oauth.TakeRequestObject(r)
		ar, err := p.provider.NewAuthorizeRequest(ctx, r)
		if err = oauth.AuthorizeRequestError(ar, err); err == nil {
			err = checkAuthorizeForm(r.Form)
		}
		if err == nil && object {
			err = oauth.ErrRequestObject
		}
		return ar, nil, err
	}
	if !strings.HasPrefix(uri, oauth.PARRequestURIPrefix) {
		return nil, nil, errPAR("Only request_uri values from the pushed authorization request endpoint are accepted.")
	}
	id := parID(uri)
	// Pushed a moment ago, perhaps to another instance: lookAgain.
	rec, err := lookAgain(ctx, p, func() (projections.PAR, error) { return projections.GetPAR(ctx, p.cfg.Store, id) })
	switch {
	case errors.Is(err, projections.ErrNotFound):
		return nil, nil, errPAR("The request_uri is unknown or has expired.")
	case err != nil:
		return nil, nil, err
	case rec.Used:
		return nil, nil, errPAR("The request_uri has already been used.")
	case !p.now().Before(rec.ExpiresAt):
		return nil, nil, errPAR("The request_uri is unknown or has expired.")
	case r.Form.Get("client_id") != rec.ClientID:
		return nil, nil, errPAR("The request_uri was not pushed by this client_id.")
	}
	q := url.Values{}
	for k, v := range rec.Params {
		q[k] = slices.Clone(v)
	}
	q.Set("client_id", rec.ClientID)
	for _, done := range r.Form["par_done"] {
		stepDone(q, done)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.Issuer+authorizePath+"?"+q.Encode(), nil)
	if err != nil {
		return nil, nil, fosite.ErrInvalidRequest
	}
	ar, err := p.provider.NewAuthorizeRequest(ctx, req)
	return ar, &rec, oauth.AuthorizeRequestError(ar, err)
}

// usePAR consumes the pushed request (par.used) at the version read: a
// second use, or one racing on another instance, is refused.
func (p *IdP) usePAR(ctx context.Context, rec *projections.PAR, userID string) error {
	ref := events.Ref{Tenant: rec.Tenant, Type: events.AggPAR, ID: rec.ID}
	ev, err := events.New(ref, events.Actor{Kind: events.ActorUser, ID: userID}, p.now(), &events.PARUsed{UserID: userID})
	if err != nil {
		return err
	}
	_, err = command.Run(ctx, command.Deps{Log: p.cfg.Log, WaitFor: p.cfg.WaitFor, Attempts: 1},
		func(context.Context, int) (command.Decision, error) {
			return command.Decision{Append: events.Append{Events: []events.Event{ev}, Expect: []events.Expect{{Ref: ref, Seq: rec.LastSeq}}}}, nil
		})
	if errors.Is(err, command.ErrContended) {
		return errPAR("The request_uri has already been used.")
	}
	return err
}

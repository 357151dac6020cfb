package idp

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

const authorizePath = "/v1/oauth/authorize"

// authorize serves GET|POST /v1/oauth/authorize (RFC 6749 §4.1.1, OIDC
// Core §3.1.2): fosite checks the client, the redirect URI (exact match;
// loopback any port, RFC 8252 §7.3), the response type and the scopes;
// a request it cannot trust gets the error page, never a redirect. A
// browser without a session (or prompt=login, or max_age passed, or an
// id_token_hint naming another user) goes to
// /login, one without a consent covering the scopes (or prompt=consent)
// to /consent; both come back here with return_to. prompt=none answers
// login_required / consent_required instead.
func (p *IdP) authorize(c echo.Context) error {
	ctx := c.Request().Context()
	ar, pushed, err := p.authorizeRequest(ctx, c.Request())
	// The console's built-in client answers at its one redirect URI,
	// exactly: fosite's loopback rule (any port, RFC 8252 §7.3) would let
	// another port of a loopback issuer take a code issued without
	// consent, or an error answer (a refused prompt or PKCE) with its
	// state.
	if ar != nil {
		if client, ok := ar.GetClient().(*oauth.Client); ok && client.FirstParty &&
			(ar.GetRedirectURI() == nil || !slices.Contains(client.Redirects, ar.GetRedirectURI().String())) {
			return p.errorPage(c, http.StatusBadRequest, "The redirect URI is not the application's.", "invalid_request")
		}
	}
	if err != nil {
		return p.authorizeError(c, ar, err)
	}
	client, ok := ar.GetClient().(*oauth.Client)
	if !ok {
		return p.errorPage(c, http.StatusBadRequest, "The application is not known.", "invalid_client")
	}
	form := ar.GetRequestForm()
	prompt := strings.Fields(form.Get("prompt"))
	hint, err := p.idTokenHint(form.Get("id_token_hint"), client)
	if err != nil {
		return p.authorizeError(c, ar, err)
	}
	sess, user, live, err := p.sessions.current(c)
	if err != nil {
		return p.unavailable(c, err)
	}
	if live && sess.Tenant != client.Tenant {
		live = false // a user of another tenant signs in again, here
	}
	if live && hint != nil && (hint.Subject != user.ID || hint.Tenant != client.Tenant) {
		// OIDC Core §3.1.2.1: the client asks about another person than
		// the one signed in: as without a session (login_required to
		// prompt=none, the login page otherwise).
		live = false
	}
	if !live || slices.Contains(prompt, "login") || maxAgePassed(form.Get("max_age"), sess, p) {
		if slices.Contains(prompt, "none") {
			return p.authorizeError(c, ar, fosite.ErrLoginRequired)
		}
		back := returnTo(c.Request(), "login")
		q := url.Values{"return_to": {back}}
		if h := form.Get("login_hint"); h != "" {
			q.Set("login_hint", h)
		}
		return c.Redirect(http.StatusSeeOther, "/login?"+q.Encode())
	}
	granted := p.grantable(client, user, ar.GetRequestedScopes())
	have, ok, err := projections.ConsentOf(ctx, p.cfg.Store, client.Tenant, user.ID, client.AppID)
	if err != nil {
		return p.unavailable(c, err)
	}
	// The console (oauth.ConsoleClientID) is this server's own page: it
	// asks for no consent.
	if !client.FirstParty && (!ok || !subset(granted, have.Scopes) || slices.Contains(prompt, "consent")) {
		if slices.Contains(prompt, "none") {
			return p.authorizeError(c, ar, fosite.ErrConsentRequired)
		}
		back := returnTo(c.Request(), "consent")
		return c.Redirect(http.StatusSeeOther, "/consent?"+url.Values{"return_to": {back}}.Encode())
	}
	for _, s := range granted {
		ar.GrantScope(s)
	}
	if err := p.checkIssue(ctx, ar); err != nil {
		return p.authorizeError(c, ar, err)
	}
	if pushed != nil {
		if err := p.usePAR(ctx, pushed, user.ID); err != nil {
			return p.authorizeError(c, ar, err)
		}
	}
	ctx = context.WithValue(ctx, issueKey, &issue{authTime: sess.AuthTime, sessionID: sess.ID})
	code, err := p.issueCode(ctx, ar, oauth.UserSession(client.Tenant, client.AppID, user.ID, "authorization_code"))
	if err != nil {
		return p.authorizeError(c, ar, err)
	}
	return redirectCode(c, ar, code, p.cfg.Issuer)
}

// grantable is what the user may let the app have of requested:
// requested ∩ approved for the app (fosite checked) ∩ what the user's
// roles allow (catalog.UserMayHold), the OpenID Connect scopes as
// requested (the app may request them when it has the code grant).
func (p *IdP) grantable(client *oauth.Client, user projections.User, requested []string) []string {
	out := make([]string, 0, len(requested))
	for _, s := range requested {
		if slices.Contains(oauth.OIDCScopes, s) {
			if s == "offline_access" && !slices.Contains(client.Grants, "refresh_token") {
				continue
			}
			out = append(out, s)
			continue
		}
		if client.FirstParty && !slices.Contains(user.Roles, events.RoleAdmin) {
			continue // the console gives a member no scope (oauth.TokenChecker.consoleAdmin)
		}
		if slices.Contains(client.Approved, s) && catalog.UserMayHold(user.Roles, s) {
			out = append(out, s)
		}
	}
	return out
}

func subset(a, b []string) bool {
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}

// idTokenHint reads an authorization request's id_token_hint (OIDC Core
// §3.1.2.1: an ID token this server issued, here to client; nil when there
// is none). A hint that is not one (not a JWT, not signed by a key of this
// server's set, another issuer, another audience) is invalid_request: the
// client sent a hint the server cannot honour, and a guess would answer
// for someone else. Its expiry is not checked: the specification lets the
// server take an expired one, and clients send old ones.
func (p *IdP) idTokenHint(raw string, client *oauth.Client) (*hintClaims, error) {
	if raw == "" {
		return nil, nil
	}
	h, err := p.readHint(raw)
	if err != nil {
		return nil, fosite.ErrInvalidRequest.WithHint("The id_token_hint is not an ID token this server issued.")
	}
	if !slices.Contains(h.Audience, client.GetID()) {
		return nil, fosite.ErrInvalidRequest.WithHint("The id_token_hint was issued to another client.")
	}
	return h, nil
}

// maxAgePassed reports whether max_age (OIDC Core §3.1.2.1) asks for a
// fresher authentication than the session's (checkParams refused a
// malformed one).
func maxAgePassed(v string, sess projections.Session, p *IdP) bool {
	n, ok, err := maxAge(v)
	if !ok || err != nil {
		return false
	}
	return p.now().Sub(sess.AuthTime).Seconds() > float64(n)
}

// returnTo is the authorization request as a URL of this server, for the
// pages to come back to, with the step it leads to done (stepDone).
func returnTo(r *http.Request, step string) string {
	q := url.Values{}
	for k, v := range r.Form {
		q[k] = v
	}
	stepDone(q, step)
	if q.Get("request_uri") != "" {
		// A pushed request's parameters stay where they are: the step
		// done is marked instead (authorizeRequest).
		q.Add("par_done", step)
	}
	return authorizePath + "?" + q.Encode()
}

// stepDone takes step ("login", "consent") out of the prompt of the
// authorization request q, and max_age and id_token_hint after a login:
// once the user acted on that page, the request is satisfied by what they
// just did (whoever signed in).
func stepDone(q url.Values, step string) {
	if pr := strings.Fields(q.Get("prompt")); len(pr) > 0 {
		pr = slices.DeleteFunc(pr, func(s string) bool { return s == step })
		if len(pr) == 0 {
			q.Del("prompt")
		} else {
			q.Set("prompt", strings.Join(pr, " "))
		}
	}
	if step == "login" {
		q.Del("max_age")
		q.Del("id_token_hint")
	}
}

// authorizeError answers an authorization request's error: to the
// client's redirect URI when fosite verified it (RFC 6749 §4.1.2.1),
// else on the error page.
func (p *IdP) authorizeError(c echo.Context, ar fosite.AuthorizeRequester, err error) error {
	if ar == nil || ar.GetClient() == nil || !ar.IsRedirectURIValid() || errors.Is(err, fosite.ErrInvalidClient) ||
		errors.Is(err, fosite.ErrInvalidRequestURI) {
		rfc := fosite.ErrorToRFC6749Error(err)
		msg := "The application sent an invalid sign-in request: " + rfc.GetDescription()
		if errors.Is(err, fosite.ErrInvalidClient) {
			msg = "The application is not known, or its redirect address is not registered."
		}
		return p.errorPage(c, http.StatusBadRequest, msg, rfc.ErrorField)
	}
	p.redirectError(c, ar, err)
	return nil
}

// redirectError answers err to the client's redirect URI, fosite's
// authorization error (RFC 6749 §4.1.2.1) with the issuer added (iss,
// RFC 9207 §2) and without the empty state fosite adds to it when the
// request had none (it relied on PKCE: StateOrPKCE): answerWriter.
func (p *IdP) redirectError(c echo.Context, ar fosite.AuthorizeRequester, err error) {
	w := answerWriter{ResponseWriter: c.Response(), iss: p.cfg.Issuer, dropState: ar.GetState() == ""}
	p.provider.WriteAuthorizeError(c.Request().Context(), w, ar, err)
}

// answerWriter finishes the error redirect fosite writes, in the query
// or, for a request that named response_mode=fragment (refused), in the
// fragment: it adds iss, the issuer, which RFC 9207 §2 puts in every
// authorization response, errors included, so that a client of several
// servers knows which one answered (RFC 9700 §4.4.2, mix-up); and with
// dropState it takes out the empty state: state goes back only when the
// request had one (RFC 6749 §4.1.2, §4.1.2.1), and a client that sent
// none refuses an answer that carries one (openid-client: unexpected
// "state"). A form_post answer carries iss through formPostTemplate.
type answerWriter struct {
	http.ResponseWriter
	iss       string
	dropState bool
}

func (w answerWriter) WriteHeader(code int) {
	h := w.Header()
	if loc := h.Get("Location"); loc != "" {
		if base, frag, ok := strings.Cut(loc, "#"); ok {
			if q, err := url.ParseQuery(frag); err == nil {
				h.Set("Location", base+"#"+w.finish(q).Encode())
			}
		} else if u, err := url.Parse(loc); err == nil {
			u.RawQuery = w.finish(u.Query()).Encode()
			h.Set("Location", u.String())
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// finish adds iss to the answer's parameters q and drops its empty state.
func (w answerWriter) finish(q url.Values) url.Values {
	q.Set("iss", w.iss)
	if w.dropState && q.Has("state") && q.Get("state") == "" {
		q.Del("state")
	}
	return q
}

// replay builds the authorization request return_to stands for, as
// fosite parses it (the consent page's decision answers it).
func (p *IdP) replay(ctx context.Context, back string) (fosite.AuthorizeRequester, *oauth.Client, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.Issuer+back, nil)
	if err != nil {
		return nil, nil, fosite.ErrInvalidRequest
	}
	ar, _, err := p.authorizeRequest(ctx, r)
	if err != nil {
		return ar, nil, err
	}
	cl, ok := ar.GetClient().(*oauth.Client)
	if !ok {
		return ar, nil, fosite.ErrInvalidClient
	}
	return ar, cl, nil
}

func (p *IdP) unavailable(c echo.Context, err error) error {
	p.cfg.Logger.Error("idp: request failed", "err", err)
	c.Response().Header().Set("Retry-After", "1")
	return p.errorPage(c, http.StatusServiceUnavailable, "The service is busy. Please try again in a moment.", "temporarily_unavailable")
}

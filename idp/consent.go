package idp

import (
	"context"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// oidcDescriptions describe the OpenID Connect scopes, which are not in
// the catalog.
var oidcDescriptions = map[string]string{
	"openid":         "Sign you in and know who you are: your user id, e-mail address and name.",
	"offline_access": "Keep access while you are not using it (a refresh token).",
	"profile":        "Know your name.",
	"email":          "Know your e-mail address.",
}

// pending reads the authorization request a consent page is about, with
// the signed-in user; ok false when the browser must sign in first.
func (p *IdP) pending(c echo.Context) (back string, ar fosite.AuthorizeRequester, cl *oauth.Client, sess projections.Session, u projections.User, ok bool, err error) {
	back = safeReturn(c.Request().FormValue("return_to"))
	if back == "" || back == "/account" {
		return back, nil, nil, sess, u, false, p.errorPage(c, http.StatusBadRequest, "There is no sign-in request to answer.", "invalid_request")
	}
	ar, cl, ferr := p.replay(c.Request().Context(), back)
	if ferr != nil {
		return back, nil, nil, sess, u, false, p.authorizeError(c, ar, ferr)
	}
	sess, u, live, err := p.sessions.current(c)
	if err != nil {
		return back, nil, nil, sess, u, false, p.unavailable(c, err)
	}
	if !live || sess.Tenant != cl.Tenant {
		return back, nil, nil, sess, u, false, c.Redirect(http.StatusSeeOther, back)
	}
	return back, ar, cl, sess, u, true, nil
}

// consentPage serves GET /consent: the scopes the app asks for, with
// their catalog descriptions.
func (p *IdP) consentPage(c echo.Context) error {
	back, ar, cl, _, u, ok, err := p.pending(c)
	if !ok {
		return err
	}
	ctx := c.Request().Context()
	t, err := p.targetOf(ctx, back, "")
	if err != nil {
		return p.unavailable(c, err)
	}
	v := view{Title: "Allow access?", CSRF: p.sessions.csrf(c, back), ReturnTo: back, TenantName: t.TenantName, AppName: t.AppName, UserEmail: u.Email}
	for _, s := range p.grantable(cl, u, ar.GetRequestedScopes()) {
		d, known := oidcDescriptions[s]
		if !known {
			sc, found, err := p.cfg.Catalog.LookupScope(ctx, cl.Tenant, s)
			if err != nil {
				return p.unavailable(c, err)
			}
			if found {
				d = sc.Description
			}
		}
		v.Scopes = append(v.Scopes, scopeView{Name: s, Description: d})
	}
	return p.render(c, http.StatusOK, "consent", v)
}

// consent serves POST /consent: the decision. Approve records
// consent.granted (what the user consented to before, plus these) and
// goes back to the authorization request; deny answers it access_denied.
func (p *IdP) consent(c echo.Context) error {
	if !p.sessions.checkCSRF(c, safeReturn(c.FormValue("return_to"))) {
		return p.errorPage(c, http.StatusForbidden, "This form expired or was not sent from this page. Go back, reload the page and try again.", "csrf")
	}
	back, ar, cl, _, u, ok, err := p.pending(c)
	if !ok {
		return err
	}
	ctx := c.Request().Context()
	if c.FormValue("decision") != "approve" {
		p.redirectError(c, ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
		return nil
	}
	if err := p.grantConsent(ctx, cl, u, p.grantable(cl, u, ar.GetRequestedScopes())); err != nil {
		return p.unavailable(c, err)
	}
	return c.Redirect(http.StatusSeeOther, back)
}

// grantConsent appends consent.granted of scopes (with those consented
// to before) on the user's consents, at the version read.
func (p *IdP) grantConsent(ctx context.Context, cl *oauth.Client, u projections.User, scopes []string) error {
	ref := events.Ref{Tenant: u.Tenant, Type: events.AggConsent, ID: u.ID}
	_, err := command.Run(ctx, command.Deps{Log: p.cfg.Log, WaitFor: p.cfg.WaitFor}, func(ctx context.Context, _ int) (command.Decision, error) {
		cs, err := projections.GetConsents(ctx, p.cfg.Store, u.Tenant, u.ID)
		if err != nil {
			return command.Decision{}, err
		}
		all := slices.Clone(cs.Apps[cl.AppID].Scopes)
		for _, s := range scopes {
			if !slices.Contains(all, s) {
				all = append(all, s)
			}
		}
		ev, err := events.New(ref, events.Actor{Kind: events.ActorUser, ID: u.ID}, p.now(),
			&events.ConsentGranted{AppID: cl.AppID, ClientID: cl.ClientID, Scopes: orEmpty(all)})
		if err != nil {
			return command.Decision{}, err
		}
		return command.Decision{Append: events.Append{Events: []events.Event{ev}, Expect: []events.Expect{{Ref: ref, Seq: cs.LastSeq}}}}, nil
	})
	return err
}

// withdraw appends consent.withdrawn for the app and kills the app's
// refresh-token families (and their access tokens) for the user.
func (p *IdP) withdraw(ctx context.Context, tenant, userID, appID string) (bool, error) {
	ref := events.Ref{Tenant: tenant, Type: events.AggConsent, ID: userID}
	found := false
	_, err := command.Run(ctx, command.Deps{Log: p.cfg.Log, WaitFor: p.cfg.WaitFor}, func(ctx context.Context, _ int) (command.Decision, error) {
		cs, err := projections.GetConsents(ctx, p.cfg.Store, tenant, userID)
		if err != nil {
			return command.Decision{}, err
		}
		if _, found = cs.Apps[appID]; !found {
			return command.Decision{}, nil
		}
		ev, err := events.New(ref, events.Actor{Kind: events.ActorUser, ID: userID}, p.now(), &events.ConsentWithdrawn{AppID: appID})
		if err != nil {
			return command.Decision{}, err
		}
		return command.Decision{Append: events.Append{Events: []events.Event{ev}, Expect: []events.Expect{{Ref: ref, Seq: cs.LastSeq}}}}, nil
	})
	if err != nil {
		return found, err
	}
	return found, p.revokeUserApp(ctx, tenant, userID, appID, events.GrantRevokedConsent)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

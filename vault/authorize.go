package vault

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/internal/keyedmac"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// This file is the interactive grants towards a provider (API.md
// "Upstream credentials (the vault)"): POST /v1/credentials/{id}/authorize
// gives the URL to send the user to, and the provider sends the user back
// to GET /v1/credentials/callback (authorization_code: ?code=&state=) or
// to the same URL with the tokens in the fragment (implicit), which the
// page posts to POST /v1/credentials/callback.
//
// The state is "<random>.<mac>": 128 random bits and their HMAC-SHA256
// under the vault's state key (a forged or truncated state is refused
// before anything is read), recorded as credential.authorization_started
// on the aggregate credauth/<SHA-256 of the random part> and used once:
// credential.authorization_used is appended expecting the started event,
// so a replay, here or on another instance, loses. The PKCE verifier
// (RFC 7636, S256) stays on the server, sealed in the started event.

// authStateTTL is how long a state is accepted.
const authStateTTL = 10 * time.Minute

// CallbackPath is the redirect_uri's path (under the issuer).
const CallbackPath = "/v1/credentials/callback"

//go:embed templates/callback.html
var templateFS embed.FS

var callbackPage = template.Must(template.ParseFS(templateFS, "templates/callback.html"))

// interactive reports whether grant sends a person to the provider.
func interactive(grant string) bool { return grant == GrantAuthorizationCode || grant == GrantImplicit }

func (v *Vault) redirectURI() string { return strings.TrimSuffix(v.Issuer, "/") + CallbackPath }

// authStart is a state about to be recorded and the URL that carries it.
type authStart struct {
	change events.Change
	url    string
}

// stateSum is the HMAC-SHA256 of data under StateKey, base64url without
// padding: the MAC of a state (keyedmac's pooled HMAC, made at the first
// use).
func (v *Vault) stateSum(data []byte) string {
	v.stateOnce.Do(func() { v.stateKey = keyedmac.New(sha256.New, v.StateKey) })
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(v.stateKey.Sum(sum[:0], data))
}

// stateMAC is the MAC of a state of before Settings (v1: its random part
// alone).
func (v *Vault) stateMAC(random string) string {
	return v.stateSum([]byte("gatehouse credential state v1\x00" + random))
}

// boundMAC is the MAC of a state bound to who started it for which
// credential of which tenant, with which settings (v2): each part
// followed by a NUL byte.
func (v *Vault) boundMAC(random, tenant, credential string, initiator events.Actor, settings string) string {
	var b []byte
	for _, part := range []string{"gatehouse credential state v2", random, tenant, credential, initiator.Kind, initiator.ID, initiator.Via, settings} {
		b = append(append(b, part...), 0)
	}
	return v.stateSum(b)
}

// settingsDigest digests what the provider sees of c: a state started
// under other settings is refused at the callback.
func settingsDigest(c projections.Credential) string {
	h := sha256.New()
	for _, part := range append([]string{c.GrantType, c.ClientID, c.ClientSecretSealed, c.AuthURL, c.TokenURL, c.ScopeSeparator}, c.Scopes...) {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// stateID is the aggregate id of a state's random part.
func stateID(random string) string {
	sum := sha256.Sum256([]byte(random))
	return hex.EncodeToString(sum[:20])
}

func verifierAAD(id string) string { return id + "/code_verifier" }

// newAuthStart makes a state for credential c and the provider URL with
// it (RFC 6749 §4.1.1 / §4.2.1; RFC 7636 §4.3 where c's provider supports
// PKCE), started by initiator (the actor of the append that records it).
func (v *Vault) newAuthStart(c projections.Credential, initiator events.Actor, now time.Time) (authStart, error) {
	if len(v.StateKey) == 0 {
		return authStart{}, errors.New("vault: no state key")
	}
	u, err := url.Parse(c.AuthURL)
	if err != nil || c.AuthURL == "" {
		return authStart{}, httpapi.Conflict("the credential has no auth_url")
	}
	random := oauth.RandomToken(16)
	settings := settingsDigest(c)
	state := random + "." + v.boundMAC(random, c.Tenant, c.ID, initiator, settings)
	id := stateID(random)
	started := &events.CredentialAuthStarted{CredentialID: c.ID, GrantType: c.GrantType, RedirectURI: v.redirectURI(),
		ExpiresAt: now.Add(authStateTTL).UTC().Truncate(time.Second), Settings: settings}
	q := u.Query()
	q.Set("client_id", c.ClientID)
	q.Set("redirect_uri", started.RedirectURI)
	q.Set("state", state)
	if len(c.Scopes) > 0 {
		q.Set("scope", strings.Join(c.Scopes, c.ScopeSeparator))
	}
	if c.GrantType == GrantImplicit {
		q.Set("response_type", "token")
	} else {
		q.Set("response_type", "code")
		if c.PKCE {
			verifier := oauth.RandomToken(32)
			sum := sha256.Sum256([]byte(verifier))
			q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
			q.Set("code_challenge_method", "S256")
			if started.VerifierSealed, err = v.Secrets.Seal(verifierAAD(id), []byte(verifier)); err != nil {
				return authStart{}, err
			}
		}
	}
	u.RawQuery = q.Encode()
	return authStart{change: events.Change{Ref: events.Ref{Tenant: c.Tenant, Type: events.AggCredentialAuth, ID: id}, Payload: started},
		url: u.String()}, nil
}

// authorize answers POST /v1/credentials/{id}/authorize: a new state
// and the URL to send the user to. Any status of an interactive
// credential may be (re)authorized: pending, revoked, expired.
func (a *API) authorize(c echo.Context) error {
	ctx := c.Request().Context()
	p := oauth.PrincipalOf(c)
	cur, match, err := a.loadToChange(c) // a stale page's Authorize is 412
	if err != nil {
		return err
	}
	if !interactive(cur.GrantType) {
		return httpapi.Conflict("the credential's grant_type is " + cur.GrantType + ": it is not authorized by a person (force a refresh instead)")
	}
	now := a.Now()
	start, err := a.newAuthStart(cur, oauth.ActorOf(p), now)
	if err != nil {
		return err
	}
	_, err = command.Run(ctx, a.commands(0), func(ctx context.Context, _ int) (command.Decision, error) {
		if _, err := a.current(ctx, p.Tenant, cur.ID, match); err != nil {
			return command.Decision{}, err
		}
		evs, err := events.NewAll(oauth.ActorOf(p), now, start.change)
		return command.Decision{Append: events.Append{Events: evs, Expect: []events.Expect{{Ref: start.change.Ref}}}}, err
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"authorize_url": start.url})
}

// pageView is what the callback page shows.
type pageView struct {
	Title, Message, Detail string
	OK, Relay              bool
	Nonce                  string
}

// page renders the callback page: no framing, no referrer, nothing
// cached, and only the nonce'd inline script and style may run.
func page(c echo.Context, status int, v pageView) error {
	v.Nonce = oauth.RandomToken(18)
	var buf bytes.Buffer
	if err := callbackPage.Execute(&buf, v); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+v.Nonce+"'; style-src 'nonce-"+v.Nonce+
		"'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

func failPage(c echo.Context, status int, msg, detail string) error {
	return page(c, status, pageView{Title: "Authorization failed", Message: msg, Detail: detail})
}

// stateSigned checks a state's MAC against what its record binds it to:
// the tenant, the credential, who started it and the settings then (a
// state of before the binding: its random part).
func (a *API) stateSigned(rec projections.CredentialAuth, random, mac string) bool {
	want := a.stateMAC(random)
	if rec.Settings != "" {
		want = a.boundMAC(random, rec.Tenant, rec.CredentialID, rec.Initiator, rec.Settings)
	}
	return hmac.Equal([]byte(mac), []byte(want))
}

// errSettingsChanged: the credential's provider settings changed after
// the authorization started (a PATCH that needs reauthorization).
var errSettingsChanged = errors.New("vault: the credential's settings changed since the authorization started")

const settingsChangedMsg = "The credential's client, secret, URLs or scopes changed after this authorization started: start it again."

// stateError is a refused state: a 400 page, nothing changed.
type stateError struct{ msg string }

func (e *stateError) Error() string { return e.msg }

// useState checks state (its MAC, that it is known, unexpired, unused,
// and for grant) and consumes it (credential.authorization_used at the
// version read: one use, across instances).
func (a *API) useState(ctx context.Context, state, grant, outcome, providerErr string) (projections.CredentialAuth, error) {
	random, mac, ok := strings.Cut(state, ".")
	if state == "" {
		return projections.CredentialAuth{}, &stateError{"The provider's answer has no state."}
	}
	if !ok || len(random) != 22 || len(mac) != 43 {
		return projections.CredentialAuth{}, &stateError{"The state is not one this server issued."}
	}
	id := stateID(random)
	rec, err := projections.GetCredentialAuth(ctx, a.Store, id)
	if errors.Is(err, projections.ErrNotFound) {
		if err := a.CatchUp(ctx); err != nil {
			return rec, err
		}
		rec, err = projections.GetCredentialAuth(ctx, a.Store, id)
	}
	switch {
	case errors.Is(err, projections.ErrNotFound):
		return rec, &stateError{"The state is unknown or has expired: start the authorization again."}
	case err != nil:
		return rec, err
	case !a.stateSigned(rec, random, mac):
		return rec, &stateError{"The state is not one this server issued."}
	case !a.Now().Before(rec.ExpiresAt):
		return rec, &stateError{"The state has expired: start the authorization again."}
	case rec.Used:
		return rec, &stateError{"The state has already been used: start the authorization again."}
	case rec.GrantType != grant:
		return rec, &stateError{"The provider answered in a way this authorization did not ask for."}
	}
	ref := events.Ref{Tenant: rec.Tenant, Type: events.AggCredentialAuth, ID: rec.ID}
	ev, err := events.New(ref, events.System, a.Now(), &events.CredentialAuthUsed{Outcome: outcome, Error: clip(providerErr, 64)})
	if err != nil {
		return rec, err
	}
	_, err = command.Run(ctx, a.commands(1), func(context.Context, int) (command.Decision, error) {
		return command.Decision{Append: events.Append{Events: []events.Event{ev}, Expect: []events.Expect{{Ref: ref, Seq: rec.LastSeq}}}}, nil
	})
	if errors.Is(err, command.ErrContended) {
		return rec, &stateError{"The state has already been used: start the authorization again."}
	}
	return rec, err
}

// callback answers GET /v1/credentials/callback: the provider's answer
// to an authorization_code request, or (no query) the page that hands an
// implicit grant's fragment to POST /v1/credentials/callback.
func (a *API) callback(c echo.Context) error {
	q := c.QueryParams()
	if len(q) == 0 {
		return page(c, http.StatusOK, pageView{Title: "Finishing authorization", Message: "Storing the provider's answer…", Relay: true})
	}
	return a.finish(c, GrantAuthorizationCode, q)
}

// callbackPost answers POST /v1/credentials/callback: an implicit
// grant's fragment (RFC 6749 §4.2.2), form-encoded by the page.
func (a *API) callbackPost(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return failPage(c, http.StatusBadRequest, "The answer could not be read.", "")
	}
	return a.finish(c, GrantImplicit, form)
}

func (a *API) finish(c echo.Context, grant string, q url.Values) error {
	ctx := c.Request().Context()
	for k, vs := range q {
		if len(vs) != 1 {
			return failPage(c, http.StatusBadRequest, "The provider's answer repeats "+clip(k, 40)+".", "")
		}
	}
	if e := q.Get("error"); e != "" {
		if _, err := a.useState(ctx, q.Get("state"), grant, "error", e); err != nil {
			return a.stateFailure(c, err)
		}
		return failPage(c, http.StatusBadRequest, "The provider did not authorize the credential: "+clip(e, 64)+".",
			clip(q.Get("error_description"), 256))
	}
	var answer grantAnswer
	if grant == GrantAuthorizationCode && q.Get("code") == "" {
		return failPage(c, http.StatusBadRequest, "The provider's answer has neither a code nor an error.", "")
	}
	if grant == GrantImplicit {
		if q.Get("access_token") == "" {
			return failPage(c, http.StatusBadRequest, "The provider's answer has neither an access token nor an error.", "")
		}
		if tt := q.Get("token_type"); tt != "" && !strings.EqualFold(tt, "bearer") {
			return failPage(c, http.StatusBadRequest, "The provider answered a token type this vault cannot use.", "")
		}
		answer = grantAnswer{tokens: tokenSet{AccessToken: q.Get("access_token")}, tokenType: "Bearer"}
		if n, err := strconv.ParseInt(q.Get("expires_in"), 10, 64); err == nil && n > 0 {
			answer.expiresIn = min(n, int64(10*365*24*time.Hour/time.Second))
		}
		if s := q.Get("scope"); s != "" {
			answer.scopes = splitScopes(s)
		}
	}
	outcome := "code"
	if grant == GrantImplicit {
		outcome = "token"
	}
	rec, err := a.useState(ctx, q.Get("state"), grant, outcome, "")
	if err != nil {
		return a.stateFailure(c, err)
	}
	cred, err := projections.GetCredential(ctx, a.Store, rec.Tenant, rec.CredentialID)
	if errors.Is(err, projections.ErrNotFound) {
		return failPage(c, http.StatusBadRequest, "The credential no longer exists.", "")
	}
	if err != nil {
		return err
	}
	if rec.Settings != "" && rec.Settings != settingsDigest(cred) {
		return failPage(c, http.StatusBadRequest, settingsChangedMsg, "")
	}
	if grant == GrantAuthorizationCode {
		if answer, err = a.exchangeCode(ctx, cred, rec, q.Get("code")); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ue *UpstreamError
			if errors.As(err, &ue) {
				return failPage(c, http.StatusBadGateway, "The provider refused to exchange the code.", errorDetail(cred.Provider, err))
			}
			return err
		}
	}
	cred, err = a.storeAuthorized(context.WithoutCancel(ctx), rec, answer)
	if errors.Is(err, projections.ErrNotFound) {
		return failPage(c, http.StatusBadRequest, "The credential no longer exists.", "")
	}
	if errors.Is(err, errSettingsChanged) {
		return failPage(c, http.StatusBadRequest, settingsChangedMsg, "")
	}
	if err != nil {
		return err
	}
	a.Kick()
	msg := "The credential " + cred.Name + " is authorized. Gatehouse keeps its tokens and refreshes them; you may close this page."
	if grant == GrantImplicit {
		msg = "The credential " + cred.Name + " is authorized. Its token cannot be refreshed (implicit grant): authorize it again when it expires. You may close this page."
	}
	return page(c, http.StatusOK, pageView{Title: "Credential authorized", Message: msg, OK: true})
}

func (a *API) stateFailure(c echo.Context, err error) error {
	var se *stateError
	if errors.As(err, &se) {
		return failPage(c, http.StatusBadRequest, se.msg, "")
	}
	return err
}

// exchangeCode asks the token endpoint for the tokens of code (RFC 6749
// §4.1.3, with the PKCE verifier).
func (a *API) exchangeCode(ctx context.Context, cred projections.Credential, rec projections.CredentialAuth, code string) (grantAnswer, error) {
	secret, _, err := a.openSecrets(cred)
	if err != nil {
		return grantAnswer{}, err
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rec.RedirectURI}}
	if rec.VerifierSealed != "" {
		verifier, err := a.Secrets.Open(verifierAAD(rec.ID), rec.VerifierSealed)
		if err != nil {
			return grantAnswer{}, err
		}
		form.Set("code_verifier", string(verifier))
	}
	client, err := a.clientFor(ctx, cred)
	if err != nil {
		return grantAnswer{}, err
	}
	return requestToken(ctx, client, endpointOf(cred, secret), form)
}

// storeAuthorized appends the token set as a new version (reason
// authorized), re-deciding on conflict so a token set the provider
// issued is never dropped. A set without a refresh token (implicit, or a
// provider that issues none) is not scheduled for refresh: it expires
// and asks for reauthorization, with credential.expiring ahead of it
// (expiring.go).
func (a *API) storeAuthorized(ctx context.Context, rec projections.CredentialAuth, answer grantAnswer) (projections.Credential, error) {
	cred, err := a.storeAnswer(ctx, a.WaitFor, rec.Tenant, rec.CredentialID, "authorized", answer, nil, a.Now(), func(cr projections.Credential) error {
		if rec.Settings != "" && rec.Settings != settingsDigest(cr) {
			return errSettingsChanged
		}
		return nil
	})
	if err == nil {
		err = a.moveOnce(ctx, a.WaitFor, rec.Tenant, rec.CredentialID)
	}
	return cred, err
}

// registerInteractive adds the authorize and callback routes.
func (a *API) registerInteractive(e *echo.Echo, auth *oauth.Authenticator) {
	e.POST("/v1/credentials/:id/authorize", a.authorize, httpapi.NoStore, auth.Require(ScopeWrite), a.Idem.Middleware)
	e.GET(CallbackPath, a.callback)
	e.POST(CallbackPath, a.callbackPost)
}

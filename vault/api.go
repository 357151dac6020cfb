package vault

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/webhooks"
)

// The scopes of the credentials API (built-in, catalog.BuiltinScopes).
const (
	ScopeRead  = "credentials:read"
	ScopeWrite = "credentials:write"
)

// API serves /v1/credentials (and POST /v1/secrets with secret_type
// oauth2).
type API struct {
	*Vault
	// Idem makes POSTs idempotent by Idempotency-Key.
	Idem *authz.Idempotency
}

// Register adds the routes.
func (a *API) Register(e *echo.Echo, auth *oauth.Authenticator) {
	g := e.Group("/v1/credentials")
	g.POST("", a.createWith(false), httpapi.NoStore, auth.Require(ScopeWrite), a.Idem.Middleware)
	g.GET("", a.list, auth.Require(ScopeRead))
	g.GET("/health", a.tenantHealth, auth.Require(ScopeRead))
	g.GET("/encryption-key", a.encryptionKey, auth.Require(ScopeWrite))
	g.GET("/:id", a.get, auth.Require(ScopeRead))
	g.PATCH("/:id", authz.HandleBody(a.patch), auth.Require(ScopeWrite))
	g.DELETE("/:id", a.delete, auth.Require(ScopeWrite))
	g.POST("/:id/refresh", a.refresh, httpapi.NoStore, auth.Require(ScopeWrite), a.Idem.Middleware)
	g.GET("/:id/health", a.health, auth.Require(ScopeRead))
	g.GET("/:id/versions", a.versions, auth.Require(ScopeRead))
	g.POST("/:id/rollback", a.rollback, auth.Require(ScopeWrite), a.Idem.Middleware)
	e.POST("/v1/secrets", a.createWith(true), httpapi.NoStore, auth.Require(ScopeWrite), a.Idem.Middleware)
	a.registerInteractive(e, auth)
	a.registerCollections(e, auth)
	a.registerActivities(e, auth)
}

// CredentialView is the credential object of API.md (what the console's
// pages decode the API's answers into).
type CredentialView struct {
	ID                   string     `json:"id"`
	Name                 string     `json:"name"`
	Provider             string     `json:"provider"`
	GrantType            string     `json:"grant_type"`
	ClientID             string     `json:"client_id"`
	Scopes               []string   `json:"scopes"`
	Status               string     `json:"status"`
	RedirectURI          string     `json:"redirect_uri"`
	AuthorizeURL         *string    `json:"authorize_url"`
	CollectionID         *string    `json:"collection_id"`
	BaseURL              *string    `json:"base_url"`
	Grants               []string   `json:"grants"`
	AuthURL              string     `json:"auth_url,omitempty"`
	TokenURL             string     `json:"token_url"`
	Username             string     `json:"username,omitempty"`
	RefreshBeforeSeconds int        `json:"refresh_before_seconds"`
	Exchangeable         bool       `json:"exchangeable"`
	MTLSCertificateID    *string    `json:"mtls_certificate_id"`
	HeaderTemplate       *string    `json:"header_template"`
	OwnerUserID          *string    `json:"owner_user_id"`
	ExpiresAt            *time.Time `json:"expires_at"`
	CreatedAt            time.Time  `json:"created_at"`
	Version              uint64     `json:"version"`
}

func (a *API) toJSON(c projections.Credential) CredentialView {
	return CredentialView{
		ID: c.ID, Name: c.Name, Provider: c.Provider, GrantType: c.GrantType, ClientID: c.ClientID, Scopes: c.Scopes,
		Status: string(c.StatusAt(a.Now())), RedirectURI: strings.TrimSuffix(a.Issuer, "/") + "/v1/credentials/callback",
		CollectionID: nilIfEmpty(c.CollectionID), BaseURL: nilIfEmpty(c.BaseURL), Grants: c.Grants, AuthURL: c.AuthURL, TokenURL: c.TokenURL,
		Username: c.Username, RefreshBeforeSeconds: c.RefreshBeforeSeconds, Exchangeable: c.Exchangeable, ExpiresAt: c.ExpiresAt(),
		MTLSCertificateID: nilIfEmpty(c.MTLSCertificateID), HeaderTemplate: nilIfEmpty(c.HeaderTemplate), OwnerUserID: nilIfEmpty(c.OwnerUserID),
		CreatedAt: c.CreatedAt, Version: c.Version,
	}
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type createRequest struct {
	SecretType           *string   `json:"secret_type"`
	Name                 string    `json:"name"`
	Provider             string    `json:"provider"`
	ClientID             string    `json:"client_id"`
	ClientSecret         string    `json:"client_secret"`
	EncryptedSecret      string    `json:"encrypted_client_secret"`
	GrantType            string    `json:"grant_type"`
	Scopes               *[]string `json:"scopes"`
	AuthURL              string    `json:"auth_url"`
	TokenURL             string    `json:"token_url"`
	Username             string    `json:"username"`
	Password             string    `json:"password"`
	BaseURL              string    `json:"base_url"`
	RefreshBeforeSeconds *int      `json:"refresh_before_seconds"`
	Exchangeable         bool      `json:"exchangeable"`
	Grants               []string  `json:"grants"`
	MTLSCertificateID    string    `json:"mtls_certificate_id"`
	CollectionID         string    `json:"collection_id"`
	// Type "certificate" makes a certificate credential (certificates.go).
	Type           string `json:"type"`
	CertificatePEM string `json:"certificate_pem" text:"pem"`
	PrivateKeyPEM  string `json:"private_key_pem" text:"pem"`
	HeaderTemplate string `json:"header_template"`
	OwnerUserID    string `json:"owner_user_id"`
}

// createWith is POST /v1/credentials (viaSecrets false) and POST
// /v1/secrets (true): only the former creates certificates.
func (a *API) createWith(viaSecrets bool) echo.HandlerFunc {
	return authz.HandleBody(func(ctx context.Context, c echo.Context, p oauth.Principal, req createRequest) error {
		return a.createCredential(ctx, c, p, req, viaSecrets)
	})
}

func (a *API) createCredential(ctx context.Context, c echo.Context, p oauth.Principal, req createRequest, viaSecrets bool) error {
	switch {
	case req.Type == "certificate" && !viaSecrets:
		return a.createCertificate(c, req)
	case req.Type != "" && req.Type != "oauth2":
		return httpapi.Validation(httpapi.FieldError{Field: "type", Message: `must be "oauth2" (the default) or "certificate"`})
	case req.CertificatePEM != "" || req.PrivateKeyPEM != "":
		return httpapi.Validation(httpapi.FieldError{Field: "certificate_pem", Message: `is only for "type": "certificate"`})
	}
	var fe []httpapi.FieldError
	if req.EncryptedSecret != "" {
		if req.ClientSecret != "" {
			fe = append(fe, httpapi.FieldError{Field: "encrypted_client_secret", Message: "give client_secret or encrypted_client_secret, not both"})
		} else {
			plain, msg, err := a.openEncrypted(ctx, p.Tenant, req.EncryptedSecret)
			if err != nil {
				return err
			}
			if msg != "" {
				fe = append(fe, httpapi.FieldError{Field: "encrypted_client_secret", Message: msg})
			}
			req.ClientSecret = plain
		}
	}
	spec, more := a.validateCreate(ctx, p.Tenant, req, viaSecrets)
	if fe = append(fe, more...); len(fe) > 0 {
		return httpapi.Validation(fe...)
	}
	ns, claimed := nameClaim(spec.OwnerUserID, spec.Name)
	if claim, err := projections.GetNameClaim(ctx, a.Store, p.Tenant, ns, claimed); err != nil {
		return err
	} else if claim.Owner != "" {
		return nameTaken()
	}
	id := events.NewID("cred")
	if req.ClientSecret != "" {
		s, err := a.Secrets.Seal(secretAAD(id), []byte(req.ClientSecret))
		if err != nil {
			return err
		}
		spec.ClientSecretSealed = s
	}
	if req.Password != "" {
		s, err := a.Secrets.Seal(passwordAAD(id), []byte(req.Password))
		if err != nil {
			return err
		}
		spec.PasswordSealed = s
	}
	// Under an approval policy: 202 with the activity; the rest runs once
	// approved (activities.go).
	if handled, err := a.requestCreate(c, p, id, spec); handled {
		return err
	}
	// client_credentials and password: the tokens before the answer (and
	// before anything is stored: a refusal changes nothing).
	tokens, err := a.initialTokens(ctx, p.Tenant, id, spec, req.ClientSecret, req.Password)
	if err != nil {
		return err
	}
	now := a.Now()
	var start *authStart
	if interactive(spec.GrantType) {
		s, err := a.newAuthStart(projections.NewCredential(id, p.Tenant, spec, now), oauth.ActorOf(p), now)
		if err != nil {
			return err
		}
		start = &s
	}
	cred, _, err := a.run(ctx, a.WaitFor, quotaAttempts, p.Tenant, id, func(ctx context.Context) (events.Append, error) {
		pairs, expect, err := a.createChanges(ctx, p.Tenant, id, &spec, tokens, start, "")
		if err != nil {
			return events.Append{}, err
		}
		return appendAs(p, now, pairs, expect...)
	})
	if err != nil {
		return err
	}
	return a.answerStarted(c, http.StatusCreated, cred, start)
}

// answerStarted answers cred after a change (the refresher kicked: its
// schedule may have changed), with the authorize_url of start if any.
func (a *API) answerStarted(c echo.Context, status int, cred projections.Credential, start *authStart) error {
	a.Kick()
	answer := a.toJSON(cred)
	if start != nil {
		answer.AuthorizeURL = &start.url
	}
	return authz.Versioned(c, status, cred.Version, answer)
}

// nameClaim is the namespace and value a credential's name is claimed
// with: unique in the tenant, or among its owner's own credentials.
func nameClaim(owner, name string) (string, string) {
	if owner != "" {
		return events.NamespaceCredentialUserName, owner + "/" + name
	}
	return events.NamespaceCredentialName, name
}

func nameTaken() error {
	return httpapi.Conflict("a credential with this name already exists in this tenant")
}

// validateCreate checks every field of a create and returns the event
// to append (without its sealed members) or every field error.
func (a *API) validateCreate(ctx context.Context, tenant string, req createRequest, viaSecrets bool) (events.CredentialCreated, []httpapi.FieldError) {
	var fe []httpapi.FieldError
	bad := func(field, msg string) { fe = append(fe, httpapi.FieldError{Field: field, Message: msg}) }
	switch {
	case req.SecretType == nil && viaSecrets:
		bad("secret_type", `is required: "oauth2"`)
	case req.SecretType != nil && *req.SecretType != "oauth2":
		bad("secret_type", `must be "oauth2"`)
	}
	name, msg := normalizeName(req.Name)
	if msg != "" {
		bad("name", msg)
	}
	preset, ok := Providers[req.Provider]
	if !ok {
		bad("provider", "must be one of "+strings.Join(ProviderNames(), ", "))
	}
	if req.ClientID == "" {
		bad("client_id", "is required")
	} else if msg := checkText(req.ClientID, 512); msg != "" {
		bad("client_id", msg)
	}
	grant := req.GrantType
	if grant == "" {
		grant = GrantAuthorizationCode
	}
	switch grant {
	case GrantAuthorizationCode, GrantClientCredentials, GrantPassword, GrantImplicit:
	default:
		bad("grant_type", "must be authorization_code, client_credentials, password or implicit")
	}
	if req.ClientSecret == "" && req.EncryptedSecret == "" && grant != GrantImplicit && req.MTLSCertificateID == "" {
		bad("client_secret", "is required (unless encrypted_client_secret or mtls_certificate_id is given or grant_type is implicit)")
	} else if len(req.ClientSecret) > 4096 {
		bad("client_secret", "must be at most 4096 bytes")
	}
	if grant == GrantPassword {
		if req.Username == "" {
			bad("username", "is required for grant_type password")
		}
		if req.Password == "" {
			bad("password", "is required for grant_type password")
		}
	} else {
		if req.Username != "" {
			bad("username", "is only for grant_type password")
		}
		if req.Password != "" {
			bad("password", "is only for grant_type password")
		}
	}
	if msg := checkText(req.Username, 512); msg != "" {
		bad("username", msg)
	}
	if len(req.Password) > 4096 {
		bad("password", "must be at most 4096 bytes")
	}
	scopes := preset.DefaultScopes
	if req.Scopes != nil {
		scopes = nil
		for i, s := range *req.Scopes {
			if s == "" || len(s) > 256 || strings.ContainsAny(s, " ,\"\\") || checkText(s, 256) != "" {
				bad(fmt.Sprintf("scopes[%d]", i), "must be a scope token: 1 to 256 characters, no space, comma, quote or backslash")
			} else if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
		if len(*req.Scopes) > 100 {
			bad("scopes", "must hold at most 100 scopes")
		}
	}
	authURL, tokenURL := preset.AuthURL, preset.TokenURL
	if req.Provider == "custom" {
		if grant == GrantAuthorizationCode || grant == GrantImplicit || req.AuthURL != "" {
			if req.AuthURL == "" {
				bad("auth_url", "is required for provider custom with an interactive grant")
			} else if msg := a.checkURL(ctx, req.AuthURL); msg != "" {
				bad("auth_url", msg)
			}
		}
		if req.TokenURL == "" && grant != GrantImplicit {
			bad("token_url", "is required for provider custom")
		} else if req.TokenURL != "" {
			if msg := a.checkURL(ctx, req.TokenURL); msg != "" {
				bad("token_url", msg)
			}
		}
		authURL, tokenURL = req.AuthURL, req.TokenURL
	} else if ok {
		if req.AuthURL != "" {
			bad("auth_url", "is set by the provider's preset; only provider custom takes it")
		}
		if req.TokenURL != "" {
			bad("token_url", "is set by the provider's preset; only provider custom takes it")
		}
	}
	if req.BaseURL != "" {
		if msg := a.checkURL(ctx, req.BaseURL); msg != "" {
			bad("base_url", msg)
		}
	}
	before := DefaultRefreshBefore
	if req.RefreshBeforeSeconds != nil {
		before = *req.RefreshBeforeSeconds
		if before < 10 || before > 86400 {
			bad("refresh_before_seconds", "must be from 10 to 86400")
		}
	}
	grants, msg := checkGrants(req.Grants)
	if msg != "" {
		bad("grants", msg)
	}
	if req.MTLSCertificateID != "" && !isCertificateID(req.MTLSCertificateID) {
		bad("mtls_certificate_id", "is not a certificate credential's id")
	}
	if msg := checkText(req.CollectionID, 128); msg != "" {
		bad("collection_id", msg)
	}
	if req.HeaderTemplate != "" {
		if msg := CheckHeaderTemplate(req.HeaderTemplate); msg != "" {
			bad("header_template", msg)
		}
	}
	if req.OwnerUserID != "" {
		if _, err := projections.GetUser(ctx, a.Store, tenant, req.OwnerUserID); err != nil {
			bad("owner_user_id", "must be a user of the tenant")
		}
	}
	return events.CredentialCreated{
		Name: name, Provider: req.Provider, GrantType: grant, ClientID: req.ClientID, Scopes: orEmpty(scopes),
		AuthURL: authURL, TokenURL: tokenURL, RevocationURL: preset.RevocationURL, ScopeSeparator: preset.ScopeSeparator,
		PKCE: preset.PKCE, RotatesRefreshTokens: preset.RotatesRefreshTokens, Username: req.Username, BaseURL: req.BaseURL,
		RefreshBeforeSeconds: before, Exchangeable: req.Exchangeable, Grants: grants,
		MTLSCertificateID: req.MTLSCertificateID, CollectionID: req.CollectionID,
		HeaderTemplate: req.HeaderTemplate, OwnerUserID: req.OwnerUserID,
	}, fe
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// normalizeName: 1–100 characters, spaces become underscores.
func normalizeName(name string) (string, string) {
	name = strings.ReplaceAll(strings.TrimSpace(name), " ", "_")
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return "", "is required"
	case n > 100:
		return "", "must be at most 100 characters long"
	}
	return name, checkText(name, 400)
}

// checkText refuses control characters and overlong values (the
// binder's hygiene already refuses invalid UTF-8).
func checkText(s string, maxBytes int) string {
	if len(s) > maxBytes {
		return fmt.Sprintf("must be at most %d bytes", maxBytes)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "must not hold control characters"
		}
	}
	return ""
}

func checkGrants(grants []string) ([]string, string) {
	out := []string{}
	if len(grants) > 100 {
		return nil, "must name at most 100 apps"
	}
	for _, g := range grants {
		if g == "" || checkText(g, 128) != "" {
			return nil, "must be app ids"
		}
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out, ""
}

// checkURL: an absolute https URL (webhooks.ValidateURL's rules: no
// credentials, no fragment, a host that resolves to an address the
// guarded client may reach); http only towards loopback or private
// addresses when those are allowed (GATEHOUSE_WEBHOOK_ALLOW_PRIVATE).
func (a *API) checkURL(ctx context.Context, raw string) string {
	if err := webhooks.ValidateURL(ctx, raw, a.AllowPrivate); err != nil {
		return err.Error()
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "must be an absolute URL"
	}
	if u.Scheme == "https" {
		return ""
	}
	if a.AllowPrivate && (u.Hostname() == "localhost" || isPrivate(u.Hostname())) {
		return ""
	}
	return "must use https (http only towards loopback with GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true)"
}

func isPrivate(host string) bool {
	ip, err := netip.ParseAddr(host)
	return err == nil && (ip.IsLoopback() || ip.IsPrivate())
}

// list answers GET /v1/credentials: the OAuth credentials, or with
// ?type=certificate the certificate credentials (their own object, as
// GET /v1/credentials/{id} shows them). The default stays the OAuth
// credentials: their readers (console, GraphQL) read each item's health
// and versions, which a certificate has not.
func (a *API) list(c echo.Context) error {
	switch c.QueryParam("type") {
	case "", "oauth2":
		return authz.ListPage(c, authz.Listed(c, a.Store, projections.ListCredentials), a.toJSON)
	case "certificate":
		return authz.ListPage(c, authz.Listed(c, a.Store, projections.ListCertificates), certJSON)
	}
	return httpapi.Validation(httpapi.FieldError{Field: "type", Message: `must be "oauth2" (the default) or "certificate"`})
}

// load reads the credential the request's path names, of the caller's
// tenant (authz.Load: a miss waits once for the projection to catch up;
// another instance may have created it).
func (a *API) load(c echo.Context) (projections.Credential, error) {
	return authz.Load(c.Request().Context(), "credential", a.CatchUp, authz.Named(c, a.Store, projections.GetCredential))
}

// credentialReadJSON is the credential's read: the object and its use
// (the proxy's and token exchange's counters, projections.CredentialUsage).
type credentialReadJSON struct {
	CredentialView
	LastUsedAt *time.Time `json:"last_used_at"`
	Usage      usageJSON  `json:"usage"`
}

type usageJSON struct {
	WindowSeconds int64                  `json:"window_seconds"`
	Requests      int64                  `json:"requests"`
	Failed        int64                  `json:"failed"`
	Exchanges     int64                  `json:"exchanges"`
	Apps          []projections.AppUsage `json:"apps"`
}

func (a *API) get(c echo.Context) error {
	if isCertificateID(c.Param("id")) {
		return a.getCertificate(c)
	}
	ctx, tenant := c.Request().Context(), oauth.PrincipalOf(c).Tenant
	cr, err := a.load(c)
	if err != nil {
		return err
	}
	used, err := projections.GetCredentialUsage(ctx, a.Store, tenant, cr.ID)
	if err != nil {
		return err
	}
	out := credentialReadJSON{CredentialView: a.toJSON(cr), LastUsedAt: used.LastUsedAt,
		Usage: usageJSON{WindowSeconds: int64(projections.UsageWindow / time.Second), Apps: used.Since(a.Now().Add(-projections.UsageWindow))}}
	for _, u := range out.Usage.Apps {
		out.Usage.Requests += u.Requests
		out.Usage.Failed += u.Failed
		out.Usage.Exchanges += u.Exchanges
	}
	// The ETag stays the credential's version (If-Match on PATCH and
	// DELETE): the use counters change no version.
	return authz.Versioned(c, http.StatusOK, cr.Version, out)
}

type patchRequest struct {
	Name                 *string   `json:"name"`
	Scopes               *[]string `json:"scopes"`
	ClientSecret         *string   `json:"client_secret"`
	BaseURL              *string   `json:"base_url"`
	Grants               *[]string `json:"grants"`
	Exchangeable         *bool     `json:"exchangeable"`
	RefreshBeforeSeconds *int      `json:"refresh_before_seconds"`
	// CollectionID moves the credential ("": out of any collection).
	CollectionID    *string `json:"collection_id"`
	HeaderTemplate  *string `json:"header_template"`
	EncryptedSecret *string `json:"encrypted_client_secret"`
	ClientID        *string `json:"client_id"`
	AuthURL         *string `json:"auth_url"`
	TokenURL        *string `json:"token_url"`
}

func (a *API) patch(ctx context.Context, c echo.Context, p oauth.Principal, req patchRequest) error {
	cur, err := a.load(c)
	if err != nil {
		return err
	}
	var fe []httpapi.FieldError
	bad := func(field, msg string) { fe = append(fe, httpapi.FieldError{Field: field, Message: msg}) }
	upd := events.CredentialUpdated{}
	var name string
	if req.Name != nil {
		var msg string
		if name, msg = normalizeName(*req.Name); msg != "" {
			bad("name", msg)
		}
	}
	if req.Scopes != nil {
		scopes := []string{}
		for i, s := range *req.Scopes {
			if s == "" || strings.ContainsAny(s, " ,\"\\") || checkText(s, 256) != "" {
				bad(fmt.Sprintf("scopes[%d]", i), "must be a scope token: 1 to 256 characters, no space, comma, quote or backslash")
			} else if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
		upd.Scopes = &scopes
	}
	if req.EncryptedSecret != nil {
		if req.ClientSecret != nil {
			bad("encrypted_client_secret", "give client_secret or encrypted_client_secret, not both")
		} else {
			plain, msg, err := a.openEncrypted(ctx, p.Tenant, *req.EncryptedSecret)
			if err != nil {
				return err
			}
			if msg != "" {
				bad("encrypted_client_secret", msg)
			}
			req.ClientSecret = &plain
		}
	}
	if req.ClientSecret != nil && (*req.ClientSecret == "" || len(*req.ClientSecret) > 4096) && req.EncryptedSecret == nil {
		bad("client_secret", "must be 1 to 4096 bytes")
	}
	upd.ClientID, upd.AuthURL, upd.TokenURL = a.checkProviderPatch(ctx, cur, req, bad)
	if upd.TokenURL != nil && *upd.TokenURL != cur.TokenURL {
		// The stored secrets (write-only) go to the token endpoint: they
		// do not follow it to a new one unless given again.
		switch {
		case cur.GrantType == GrantPassword:
			bad("token_url", "a password credential's token endpoint does not change (its stored password would go there): create the credential again")
		case cur.ClientSecretSealed != "" && req.ClientSecret == nil:
			bad("client_secret", "is required with a new token_url: the stored secret is not sent to an endpoint it was not given for")
		}
	}
	if req.BaseURL != nil {
		if *req.BaseURL != "" {
			if msg := a.checkURL(ctx, *req.BaseURL); msg != "" {
				bad("base_url", msg)
			}
		}
		upd.BaseURL = req.BaseURL
	}
	if req.Grants != nil {
		grants, msg := checkGrants(*req.Grants)
		if msg != "" {
			bad("grants", msg)
		}
		upd.Grants = &grants
	}
	if req.RefreshBeforeSeconds != nil && (*req.RefreshBeforeSeconds < 10 || *req.RefreshBeforeSeconds > 86400) {
		bad("refresh_before_seconds", "must be from 10 to 86400")
	}
	if req.HeaderTemplate != nil && *req.HeaderTemplate != "" {
		if msg := CheckHeaderTemplate(*req.HeaderTemplate); msg != "" {
			bad("header_template", msg)
		}
	}
	upd.Exchangeable, upd.RefreshBeforeSeconds, upd.HeaderTemplate = req.Exchangeable, req.RefreshBeforeSeconds, req.HeaderTemplate
	if req.CollectionID != nil {
		if msg := checkText(*req.CollectionID, 128); msg != "" {
			bad("collection_id", msg)
		}
		upd.CollectionID = req.CollectionID
	}
	if len(fe) > 0 {
		return httpapi.Validation(fe...)
	}
	match, err := authz.IfMatch(c, cur.Version)
	if err != nil {
		return err
	}
	if req.ClientSecret != nil {
		s, err := a.Secrets.Seal(secretAAD(cur.ID), []byte(*req.ClientSecret))
		if err != nil {
			return err
		}
		upd.ClientSecretSealed = &s
	}
	now := a.Now()
	// What the provider sees changed: an interactive credential needs a
	// new authorization; a client_credentials or password one gets its
	// token set from the provider now, with the new settings, before
	// anything is stored (a refusal is 502 and changes nothing).
	var fresh *grantAnswer
	var start *authStart
	switch {
	case !providerChange(cur, upd):
	case interactive(cur.GrantType):
		s, err := a.newAuthStart(withProviderChange(cur, upd), oauth.ActorOf(p), now)
		if err != nil {
			return err
		}
		start = &s
	default:
		answer, err := a.patchTokens(ctx, cur, upd, req.ClientSecret)
		if err != nil {
			return err
		}
		fresh = &answer
	}
	// applied: the provider settings this PATCH leaves (what its token set
	// or its authorization was made for).
	var applied string
	// Per attempt: whether the token set goes after the change (on the
	// refresh state) and whether the authorization's state went with it.
	storeAfter, started := false, false
	cred, _, err := a.run(ctx, a.WaitFor, 0, p.Tenant, cur.ID, func(ctx context.Context) (events.Append, error) {
		storeAfter, started = false, false
		cr, err := a.current(ctx, p.Tenant, cur.ID, match)
		if err != nil {
			return events.Append{}, err
		}
		if (fresh != nil || start != nil) && settingsDigest(cr) != settingsDigest(cur) {
			// Another change of the provider side came first (two PATCHes at
			// once): the token set or authorization prepared here is for
			// settings that are gone. This one loses, nothing appended.
			return events.Append{}, errPatchRace
		}
		ref := credentialRef(p.Tenant, cr.ID)
		u := upd
		var pairs []events.Change
		var expect []events.Expect
		if req.Name != nil && name != cr.Name {
			ns, newValue := nameClaim(cr.OwnerUserID, name)
			_, oldValue := nameClaim(cr.OwnerUserID, cr.Name)
			claim, err := projections.GetNameClaim(ctx, a.Store, p.Tenant, ns, newValue)
			if err != nil {
				return events.Append{}, err
			}
			if claim.Owner != "" {
				return events.Append{}, nameTaken()
			}
			claimed := events.ClaimName(p.Tenant, ns, newValue, cr.ID)
			pairs = append(pairs, claimed, events.ReleaseName(p.Tenant, ns, oldValue, cr.ID))
			expect = append(expect, events.Expect{Ref: claimed.Ref, Seq: claim.LastSeq})
			u.Name = &name
		}
		if u.Scopes != nil && slices.Equal(*u.Scopes, cr.Scopes) {
			u.Scopes = nil
		}
		if u.BaseURL != nil && *u.BaseURL == cr.BaseURL {
			u.BaseURL = nil
		}
		if u.Grants != nil && slices.Equal(*u.Grants, cr.Grants) {
			u.Grants = nil
		}
		if u.Exchangeable != nil && *u.Exchangeable == cr.Exchangeable {
			u.Exchangeable = nil
		}
		if u.RefreshBeforeSeconds != nil && *u.RefreshBeforeSeconds == cr.RefreshBeforeSeconds {
			u.RefreshBeforeSeconds = nil
		}
		if u.CollectionID != nil {
			moves, moveExpect, err := a.membership(ctx, p.Tenant, cr.ID, cr.CollectionID, *u.CollectionID)
			if err != nil {
				return events.Append{}, err
			}
			if len(moves) == 0 {
				u.CollectionID = nil
			}
			pairs, expect = append(pairs, moves...), append(expect, moveExpect...)
		}
		if u.HeaderTemplate != nil && *u.HeaderTemplate == cr.HeaderTemplate {
			u.HeaderTemplate = nil
		}
		u.ClientID, u.AuthURL, u.TokenURL = unlessSame(u.ClientID, cr.ClientID), unlessSame(u.AuthURL, cr.AuthURL), unlessSame(u.TokenURL, cr.TokenURL)
		if u == (events.CredentialUpdated{}) && len(pairs) == 0 {
			return events.Append{}, nil
		}
		applied = settingsDigest(withProviderChange(cr, u))
		u.Reauthorize = interactive(cr.GrantType) && providerChange(cr, u)
		if u.Reauthorize {
			u.SupersededThrough = cr.LastVersion // cr is merged with its refresh state
		}
		pairs = append(pairs, events.Change{Ref: ref, Payload: &u})
		if u.Reauthorize && start != nil {
			// The new authorization's state, in the same append.
			pairs, expect = append(pairs, start.change), append(expect, events.Expect{Ref: start.change.Ref})
			started = true
		}
		storeAfter = fresh != nil && cr.RefreshSeq != 0
		if fresh != nil && cr.RefreshSeq == 0 {
			// Its token sets are still the control stream's: the new one
			// in the same append as the change.
			// The token set is of the settings this change leaves: its
			// scopes, and its refresh lead.
			view := withProviderChange(cr, u)
			view.RefreshBeforeSeconds = *cmp.Or(u.RefreshBeforeSeconds, &cr.RefreshBeforeSeconds)
			tokens, err := a.tokensEvent(view, cr.LastVersion+1, "updated", *fresh, nil, now)
			if err != nil {
				return events.Append{}, err
			}
			pairs = append(pairs, events.Change{Ref: ref, Payload: tokens})
		}
		return appendAs(p, now, pairs, append(expect, events.Expect{Ref: ref, Seq: cr.LastSeq})...)
	})
	if !started {
		start = nil
	}
	if err == nil && storeAfter {
		// Its token sets live in its refresh state (high-volume stream,
		// refresh_state.go): the new one is stored there, after the
		// change. Should this instance stop in between, the new settings
		// stand and the previous token set stays current until the next
		// refresh, which asks with the new settings.
		// A PATCH of the provider side that came after this one (and fetched
		// its own token set with the settings it left) wins: this token set
		// is of settings that are gone and is not stored.
		cred, err = a.storeAnswer(ctx, a.WaitFor, p.Tenant, cur.ID, "updated", *fresh, nil, now, func(cr projections.Credential) error {
			if settingsDigest(cr) != applied {
				return errPatchSuperseded
			}
			return nil
		})
		if errors.Is(err, errPatchSuperseded) {
			cred, err = projections.GetCredential(ctx, a.Store, p.Tenant, cur.ID)
		}
	}
	if errors.Is(err, errPatchRace) {
		return httpapi.Conflict("the credential's client, secret, URLs or scopes changed during this request; nothing was changed: read it and send the change again")
	}
	if err != nil {
		return err
	}
	return a.answerStarted(c, http.StatusOK, cred, start)
}

var (
	// errPatchRace: a PATCH's provider change lost to another one (409).
	errPatchRace = errors.New("vault: the provider settings changed during the PATCH")
	// errPatchSuperseded: a later PATCH of the provider side was appended
	// before this one stored its token set.
	errPatchSuperseded = errors.New("vault: the PATCH was superseded before its token set was stored")
)

// appendAs is the append of pairs by p at now, expecting expect.
func appendAs(p oauth.Principal, now time.Time, pairs []events.Change, expect ...events.Expect) (events.Append, error) {
	evs, err := events.NewAll(oauth.ActorOf(p), now, pairs...)
	return events.Append{Events: evs, Expect: expect}, err
}

// loadToChange reads the credential of the request's path (a.load) and
// checks its If-Match against the credential's version (412 when the
// page or client is stale): the start of a command on one credential.
// The match is checked again in the command (current).
func (a *API) loadToChange(c echo.Context) (projections.Credential, uint64, error) {
	cur, err := a.load(c)
	if err != nil {
		return cur, 0, err
	}
	match, err := authz.IfMatch(c, cur.Version)
	return cur, match, err
}

// current reads the credential a command changes and checks If-Match.
func (a *API) current(ctx context.Context, tenant, id string, match uint64) (projections.Credential, error) {
	cr, err := projections.GetCredential(ctx, a.Store, tenant, id)
	if errors.Is(err, projections.ErrNotFound) {
		return cr, httpapi.NotFound("credential")
	}
	if err != nil {
		return cr, err
	}
	return cr, command.Match(match, cr.Version)
}

func (a *API) delete(c echo.Context) error {
	if isCertificateID(c.Param("id")) {
		return a.deleteCertificate(c)
	}
	p := oauth.PrincipalOf(c)
	return authz.Remove(c, authz.Removal[projections.Credential]{What: "credential", CatchUp: a.CatchUp,
		Deps: a.commands(quotaAttempts), Now: a.Now(),
		Get:     authz.Named(c, a.Store, projections.GetCredential),
		Version: func(cr projections.Credential) uint64 { return cr.Version },
		// Under an approval policy: 202 with the activity (activities.go).
		Before: func(cur projections.Credential) (bool, error) { return a.requestDelete(c, p, cur) },
		Decide: func(ctx context.Context, cr projections.Credential) ([]events.Change, []events.Expect, error) {
			return a.deleteChanges(ctx, p.Tenant, cr.ID, 0)
		}})
}

// refresh forces a refresh now: 200 with the credential, 502
// upstream_error when the provider refused (the failure is recorded and
// shows in its health), 409 while another refresh of it is in flight.
func (a *API) refresh(c echo.Context) error {
	ctx := c.Request().Context()
	p := oauth.PrincipalOf(c)
	// If-Match: a stale page's force refresh is 412 (the credential
	// changed since; a refresh already made a new token set current).
	cur, _, err := a.loadToChange(c)
	if err != nil {
		return err
	}
	cred, err := a.Refresh(ctx, p.Tenant, cur.ID, true)
	var ue *UpstreamError
	switch {
	case errors.As(err, &ue):
		return httpapi.UpstreamError(errorDetail(cur.Provider, err))
	case errors.Is(err, errInFlight):
		return httpapi.Conflict("a refresh of this credential is in progress; try again in a moment").AsRetry()
	case errors.Is(err, errNotRefreshable):
		return httpapi.Conflict("the credential has no refresh token: authorize it first")
	case errors.Is(err, errSettingsChangedMidRefresh):
		return httpapi.Conflict("the credential's client, secret, URLs or scopes changed during the refresh; its answer was not kept").AsRetry()
	case errors.Is(err, projections.ErrNotFound):
		return httpapi.NotFound("credential")
	case err != nil:
		return err
	}
	a.Kick()
	return authz.Versioned(c, http.StatusOK, cred.Version, a.toJSON(cred))
}

// HealthView is a credential's health (API.md).
type HealthView struct {
	ID                  string     `json:"id"`
	Name                string     `json:"name"`
	Status              string     `json:"status"`
	LastRefreshedAt     *time.Time `json:"last_refreshed_at"`
	ExpiresAt           *time.Time `json:"expires_at"`
	NextRefreshAt       *time.Time `json:"next_refresh_at"`
	RefreshAttempts     int        `json:"refresh_attempts"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastError           *string    `json:"last_error"`
}

func (a *API) healthOf(cr projections.Credential) HealthView {
	return HealthView{ID: cr.ID, Name: cr.Name, Status: string(cr.StatusAt(a.Now())), LastRefreshedAt: cr.LastRefreshedAt,
		ExpiresAt: cr.ExpiresAt(), NextRefreshAt: cr.NextRefreshAt, RefreshAttempts: cr.RefreshAttempts,
		ConsecutiveFailures: cr.ConsecutiveFailures, LastError: nilIfEmpty(cr.LastError)}
}

func (a *API) health(c echo.Context) error {
	cr, err := a.load(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a.healthOf(cr))
}

// tenantHealth counts the tenant's credentials per status and lists the
// ones that need attention (every status but active), at most 100.
func (a *API) tenantHealth(c echo.Context) error {
	ctx := c.Request().Context()
	p := oauth.PrincipalOf(c)
	counts := map[string]int{}
	for _, s := range []events.CredentialStatus{events.CredentialStatusPending, events.CredentialStatusActive, events.CredentialStatusExpiringSoon,
		events.CredentialStatusRevoked, events.CredentialStatusFailed, events.CredentialStatusExpired} {
		counts[string(s)] = 0
	}
	out := TenantHealthView{Counts: counts, Attention: []HealthView{}}
	for page := (projections.Page{Limit: 500}); ; {
		creds, next, err := projections.ListCredentials(ctx, a.Store, p.Tenant, page)
		if err != nil {
			return err
		}
		for _, cr := range creds {
			h := a.healthOf(cr)
			counts[h.Status]++
			out.Total++
			if h.Status != string(events.CredentialStatusActive) && len(out.Attention) < 100 {
				out.Attention = append(out.Attention, h)
			}
		}
		if next == "" {
			break
		}
		page.After = next
	}
	return c.JSON(http.StatusOK, out)
}

// TenantHealthView is GET /v1/credentials/health: the tenant's
// credentials counted per status (every status named, 0 included) and
// the ones that need attention.
type TenantHealthView struct {
	Total     int            `json:"total"`
	Counts    map[string]int `json:"counts"`
	Attention []HealthView   `json:"attention"`
}

// VersionView is one kept token set of GET /v1/credentials/{id}/versions
// (never its tokens).
type VersionView struct {
	Version   int        `json:"version"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	Scopes    []string   `json:"scopes"`
	Reason    string     `json:"reason"`
	Current   bool       `json:"current"`
}

func (a *API) versions(c echo.Context) error {
	cr, err := a.load(c)
	if err != nil {
		return err
	}
	kept, err := projections.CredentialVersions(c.Request().Context(), a.Store, cr)
	if err != nil {
		return err
	}
	items := make([]VersionView, 0, len(kept))
	for i := len(kept) - 1; i >= 0; i-- { // newest first
		v := kept[i]
		items = append(items, VersionView{Version: v.Version, CreatedAt: v.CreatedAt, ExpiresAt: v.ExpiresAt, Scopes: v.Scopes, Reason: v.Reason, Current: v.Version == cr.Current})
	}
	return c.JSON(http.StatusOK, authz.Page[VersionView]{Items: items})
}

// rollback makes an older, still valid version current (409 otherwise).
func (a *API) rollback(c echo.Context) error {
	ctx := c.Request().Context()
	p := oauth.PrincipalOf(c)
	var req struct {
		Version *int `json:"version"`
	}
	if err := httpapi.BindJSON(c, &req); err != nil {
		return err
	}
	if req.Version == nil || *req.Version < 1 {
		return httpapi.Validation(httpapi.FieldError{Field: "version", Message: "is required: a version number from the versions list"})
	}
	cur, match, err := a.loadToChange(c)
	if err != nil {
		return err
	}
	now := a.Now()
	cred, _, err := a.run(ctx, a.WaitFor, 0, p.Tenant, cur.ID, func(ctx context.Context) (events.Append, error) {
		cr, err := a.current(ctx, p.Tenant, cur.ID, match)
		if err != nil {
			return events.Append{}, err
		}
		kept, err := projections.CredentialVersions(ctx, a.Store, cr)
		if err != nil {
			return events.Append{}, err
		}
		var v projections.CredentialVersion
		ok := false
		for _, x := range kept {
			if x.Version == *req.Version {
				v, ok = x, true
			}
		}
		switch {
		case !ok:
			return events.Append{}, httpapi.Conflict(fmt.Sprintf("version %d is not kept (the newest %d are, until they expire)", *req.Version, projections.CredentialVersionsKept))
		case v.Version <= cr.SupersededThrough:
			return events.Append{}, httpapi.Conflict(fmt.Sprintf("version %d was issued before the credential's client, secret, URLs or scopes changed: authorize it again", v.Version))
		case v.Version == cr.Current:
			return events.Append{}, httpapi.Conflict(fmt.Sprintf("version %d is already current", v.Version))
		case v.ExpiresAt != nil && !now.Before(*v.ExpiresAt):
			return events.Append{}, httpapi.Conflict(fmt.Sprintf("version %d has expired", v.Version))
		}
		return refreshAppend(cr, oauth.ActorOf(p), now, &events.CredentialRefreshRolledBack{State: a.rolledBackState(cr, v), Version: v.Version})
	})
	if err != nil {
		return err
	}
	if err := a.moveOnce(ctx, a.WaitFor, p.Tenant, cur.ID); err != nil {
		return err
	}
	if cred, err = projections.GetCredential(ctx, a.Store, p.Tenant, cur.ID); err != nil {
		return err
	}
	a.Kick()
	return authz.Versioned(c, http.StatusOK, cred.Version, a.toJSON(cred))
}

package authz

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// Secret rotation and service tokens (API.md "Apps": secrets, tokens).

// Limits of credentials.
const (
	maxLiveSecrets     = 5
	defaultGracePeriod = 24 * 60 * 60
	maxGracePeriod     = 30 * 24 * 60 * 60
)

// gracePeriod is the grace_period_seconds of a secret rotation (an app's,
// a webhook's): how long the live secrets keep working beside the new one;
// absent, defaultGracePeriod.
func gracePeriod(seconds *int) (int, error) {
	grace := defaultGracePeriod
	setIf(&grace, seconds)
	if grace < 0 || grace > maxGracePeriod {
		return 0, httpapi.Validation(httpapi.FieldError{Field: "grace_period_seconds", Message: fmt.Sprintf("must be from 0 to %d (30 days)", maxGracePeriod)})
	}
	return grace, nil
}

// rotateSecretBody is the body of POST …/secrets.
type rotateSecretBody struct {
	GracePeriodSeconds *int `json:"grace_period_seconds"`
}

// rotatedSecret is the 201 answer of a rotation: the new secret, shown
// this once.
type rotatedSecret struct {
	ID                string    `json:"id"`
	ClientSecret      string    `json:"client_secret"`
	CreatedAt         time.Time `json:"created_at"`
	PreviousExpiresAt time.Time `json:"previous_expires_at"`
}

// serviceTokenBody is the body of POST …/tokens.
type serviceTokenBody struct {
	Scopes     []string `json:"scopes" maxItems:"100"`
	TTLSeconds *int     `json:"ttl_seconds"`
}

// serviceToken is the 201 answer of POST …/tokens.
type serviceToken struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
	JTI         string `json:"jti"`
}

// ServiceTokens mints tokens for an app on an admin's behalf.
type ServiceTokens interface {
	// MintServiceToken mints for app on by's behalf: the token's act
	// claim and its token.minted event name by.
	MintServiceToken(ctx context.Context, app projections.App, scopes []string, ttl time.Duration, by oauth.Principal) (token, jti string, err error)
	RevokeServiceToken(ctx context.Context, app projections.App, jti string, actor events.Actor) error
}

var _ ServiceTokens = (*oauth.Server)(nil)

func (a *Apps) rotateSecret(ctx context.Context, c echo.Context, p oauth.Principal, cur projections.App, req rotateSecretBody) error {
	id := cur.ID
	grace, err := gracePeriod(req.GracePeriodSeconds)
	if err != nil {
		return err
	}
	match, err := ifMatch(c, cur.Version)
	if err != nil {
		return err
	}
	secret, secretID, now := oauth.NewClientSecret(), events.NewID("sec"), a.Now()
	prevEnd := now.Add(time.Duration(grace) * time.Second).UTC()
	hash := a.Hasher.HashString(secret)
	app, err := a.decide(ctx, func(ctx context.Context, r projections.Reader) (events.Append, string, error) {
		app, err := currentManaged(ctx, r, p, id, match)
		if err != nil {
			return events.Append{}, "", err
		}
		if !usesSecret(app.TokenEndpointAuthMethod) {
			return events.Append{}, "", errNoSecrets(app.TokenEndpointAuthMethod)
		}
		// With a grace period every live secret keeps working beside the
		// new one; without, the new one is the only one left.
		if live := len(app.LiveSecrets(now)); grace > 0 && live+1 > maxLiveSecrets {
			return events.Append{}, "", httpapi.Conflict(fmt.Sprintf("the app has %d live secrets, the most allowed is %d: revoke one or rotate with grace_period_seconds 0", live, maxLiveSecrets))
		}
		return a.appAppend(p, app, &events.AppSecretRotated{SecretID: secretID, SecretHash: hash, PreviousExpiresAt: prevEnd})
	})
	if err != nil {
		return err
	}
	created := now.UTC()
	for _, s := range app.Secrets {
		if s.ID == secretID {
			created = s.CreatedAt // the event's time, as GET shows it
		}
	}
	return Versioned(c, http.StatusCreated, app.Version, rotatedSecret{ID: secretID, ClientSecret: secret, CreatedAt: created, PreviousExpiresAt: prevEnd})
}

// errNoSecrets refuses to rotate the secret of an app whose auth method
// uses none.
func errNoSecrets(method string) error {
	return httpapi.Conflict(fmt.Sprintf("the app authenticates with %s and has no client secret: to use one, PATCH its token_endpoint_auth_method to client_secret_basic or client_secret_post (the answer shows the new secret once)", method))
}

func (a *Apps) revokeSecret(ctx context.Context, c echo.Context, p oauth.Principal) error {
	id, secretID := c.Param("id"), c.Param("secret_id")
	cur, err := a.app().Managed(ctx, p, id)
	if err != nil {
		return err
	}
	match, err := ifMatch(c, cur.Version)
	if err != nil {
		return err
	}
	_, err = a.decide(ctx, func(ctx context.Context, r projections.Reader) (events.Append, string, error) {
		app, err := currentManaged(ctx, r, p, id, match)
		if err != nil {
			return events.Append{}, "", err
		}
		live := app.LiveSecrets(a.Now())
		if !slices.ContainsFunc(live, func(s projections.AppSecret) bool { return s.ID == secretID }) {
			return events.Append{}, "", httpapi.NotFound("secret")
		}
		if len(live) == 1 {
			return events.Append{}, "", httpapi.Conflict("this is the app's only live secret: rotate first (grace_period_seconds 0 ends it at once)")
		}
		return a.appAppend(p, app, &events.AppSecretRevoked{SecretID: secretID})
	})
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *Apps) mintServiceToken(ctx context.Context, c echo.Context, p oauth.Principal, app projections.App, req serviceTokenBody) error {
	ttl := app.AccessTokenTTLSeconds
	setIf(&ttl, req.TTLSeconds)
	var fe fieldErrs
	if ttl < minTokenTTL || ttl > maxTokenTTL {
		fe.add("ttl_seconds", "must be from %d to %d", minTokenTTL, maxTokenTTL)
	}
	scopes := req.Scopes
	if len(scopes) == 0 {
		for _, s := range app.Scopes {
			if s.Status == events.GrantApproved {
				scopes = append(scopes, s.Scope)
			}
		}
		if len(scopes) == 0 {
			fe.add("scopes", "the app has no approved scope")
		}
	}
	var notApproved []string
	for _, s := range scopes {
		if !app.ScopeApproved(s) {
			notApproved = append(notApproved, s)
		}
	}
	if len(notApproved) > 0 {
		fe.add("scopes", "not approved for the app: %s", strings.Join(notApproved, ", "))
	}
	if len(fe) > 0 {
		return httpapi.Validation(fe...)
	}
	if !app.Active {
		return httpapi.Conflict("the app is inactive")
	}
	scopes = slices.Compact(slices.Sorted(slices.Values(scopes)))
	tok, jti, err := a.Tokens.MintServiceToken(ctx, app, scopes, time.Duration(ttl)*time.Second, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, serviceToken{AccessToken: tok, TokenType: "Bearer", ExpiresIn: ttl, Scope: strings.Join(scopes, " "), JTI: jti})
}

func (a *Apps) revokeServiceToken(ctx context.Context, c echo.Context, p oauth.Principal) error {
	app, err := a.app().Managed(ctx, p, c.Param("id"))
	if err != nil {
		return err
	}
	jti := c.Param("jti")
	if jti == "" || len(jti) > 128 {
		return httpapi.Validation(httpapi.FieldError{Field: "jti", Message: "must be a token id"})
	}
	if err := a.Tokens.RevokeServiceToken(ctx, app, jti, oauth.ActorOf(p)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

package authz

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/jwks"
	"github.com/gatehouse/gatehouse/oauth"
)

// KeySet is the published key set (package jwks's Keyring).
type KeySet interface {
	// PublicJWKS returns the encoded JWK set and its ETag.
	PublicJWKS() (body []byte, etag string)
}

// KeyRotator starts a signing-key rotation (package jwks's Rotator).
type KeyRotator interface {
	RotateNow(ctx context.Context) (jwks.Rotation, error)
}

// Keys serves the JWKS (RFC 7517 §5) and the on-demand rotation.
type Keys struct {
	Set     KeySet
	Rotator KeyRotator
	// MaxAge is the Cache-Control max-age of the JWKS: the time a client
	// may keep it, which the key lifecycle allows for.
	MaxAge  time.Duration
	WaitFor func(ctx context.Context, s events.Stream, seq uint64) error
	Idem    *Idempotency
}

// Register adds the key routes.
func (k *Keys) Register(e *echo.Echo, auth *oauth.Authenticator) {
	e.GET("/.well-known/jwks.json", k.jwks)
	e.POST("/v1/platform/keys/rotate", k.rotate, auth.Require("system:keys:write"), k.Idem.Middleware)
}

// jwks serves the public keys: next, active and retired ones. The body is
// encoded once per key-set change; a matching If-None-Match is 304.
func (k *Keys) jwks(c echo.Context) error {
	body, tag := k.Set.PublicJWKS()
	h := c.Response().Header()
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(k.MaxAge.Seconds())))
	h.Set("ETag", tag)
	if c.Request().Header.Get("If-None-Match") == tag {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, "application/jwk-set+json", body)
}

// rotation is the answer of POST /v1/platform/keys/rotate.
type rotation struct {
	Activated  string     `json:"activated,omitempty"`
	Next       string     `json:"next,omitempty"`
	ActivateAt *time.Time `json:"activate_at,omitempty"`
}

// rotate starts a rotation now: the next key signs at once if it has been
// published for the JWKS cache lifetime, otherwise a new next key is
// scheduled to sign when its publish window has passed.
func (k *Keys) rotate(c echo.Context) error {
	ctx := c.Request().Context()
	rot, err := k.Rotator.RotateNow(ctx)
	if errors.Is(err, events.ErrVersionConflict) {
		return httpapi.Conflict("the signing keys changed meanwhile; try again")
	}
	if err != nil {
		return err
	}
	if rot.Seq > 0 {
		if err := k.WaitFor(ctx, events.Control, rot.Seq); err != nil {
			return err
		}
	}
	out := rotation{Activated: rot.Activated, Next: rot.Next}
	if !rot.ActivateAt.IsZero() {
		at := rot.ActivateAt.UTC()
		out.ActivateAt = &at
	}
	return c.JSON(http.StatusAccepted, out)
}

package authz

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/jwks"
	"github.com/gatehouse/gatehouse/oauth"
)

// KeyRotator starts a signing-key rotation (package jwks's Rotator).
type KeyRotator interface {
	RotateNow(ctx context.Context) (jwks.Rotation, error)
}

// Keys serves the on-demand rotation of the signing keys (the JWKS itself
// is package oauth's JWKS).
type Keys struct {
	Rotator KeyRotator
	WaitFor func(ctx context.Context, s events.Stream, seq uint64) error
	Idem    *Idempotency
}

// Register adds the key routes.
func (k *Keys) Register(e *echo.Echo, auth *oauth.Authenticator) {
	e.POST("/v1/platform/keys/rotate", k.rotate, auth.Require("system:keys:write"), k.Idem.Middleware)
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
		return httpapi.Conflict("the signing keys changed meanwhile; try again").AsRetry()
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

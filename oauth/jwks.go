package oauth

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/httpapi"
)

// KeySet is the published key set (package jwks's Keyring).
type KeySet interface {
	// PublicJWKS returns the encoded JWK set and its ETag.
	PublicJWKS() (body []byte, etag string)
}

// JWKS serves the public signing keys (RFC 7517 §5) at
// /.well-known/jwks.json.
type JWKS struct {
	Set KeySet
	// MaxAge is the Cache-Control max-age of the JWKS: the time a client
	// may keep it, which the key lifecycle allows for.
	MaxAge time.Duration
}

// Register adds the JWKS route to e.
func (k *JWKS) Register(e *echo.Echo) {
	httpapi.GetAndHead(e, "/.well-known/jwks.json", k.serve, httpapi.AnyOrigin)
}

// serve answers the public keys: next, active and retired ones. The body
// is encoded once per key-set change; a matching If-None-Match is 304.
func (k *JWKS) serve(c echo.Context) error {
	body, tag := k.Set.PublicJWKS()
	h := c.Response().Header()
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(k.MaxAge.Seconds())))
	h.Set("ETag", tag)
	if c.Request().Header.Get("If-None-Match") == tag {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, "application/jwk-set+json", body)
}

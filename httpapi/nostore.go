package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// NoStore is the route middleware of every endpoint whose answer carries
// a secret or a token: the token endpoint, introspection and revocation,
// service tokens, app creation and secret rotation, tenant creation (the
// admin app's secret), webhook creation and secret rotation. It marks
// every answer of the route, errors and idempotent replays included, so
// that no cache keeps it: Cache-Control: no-store (RFC 9111 §5.2.2.5),
// and Pragma: no-cache for HTTP/1.0 caches, as RFC 6749 §5.1 asks of
// token answers. Register it first (outermost) on such a route; the list
// of routes is TestSecretRoutesAreNoStore's.
func NoStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		noStore(c.Response().Header())
		return next(c)
	}
}

// noStoreValues back the two headers' values, shared by every answer:
// each header gets a slice of capacity 1, which an Add reallocates
// instead of writing into the shared array (two allocations fewer a
// request; a Set replaces the slice).
var noStoreValues = [2]string{"no-store", "no-cache"}

func noStore(h http.Header) {
	h["Cache-Control"] = noStoreValues[0:1:1]
	h["Pragma"] = noStoreValues[1:2:2]
}

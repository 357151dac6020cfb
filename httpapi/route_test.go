package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/httpapi"
)

// TestRoutedAs: a path is routed as the pattern when echo takes it to
// that route, a parameter's segment being any id; an id that spells a
// static route beside the parameter's is not.
func TestRoutedAs(t *testing.T) {
	e := echo.New()
	h := func(echo.Context) error { return nil }
	e.GET("/v1/credentials/health", h)
	e.GET("/v1/credentials/:id", h)
	e.GET("/v1/credentials/:id/health", h)
	for path, want := range map[string]bool{
		"/v1/credentials/cred_1":        true,
		"/v1/credentials/a%2Fb":         true,
		"/v1/credentials/..":            true,
		"/v1/credentials/health":        false,
		"/v1/credentials/health/health": false, // the pattern is /v1/credentials/:id
		"/v1/nothing/x":                 false,
	} {
		if got := httpapi.RoutedAs(e, http.MethodGet, path, "/v1/credentials/:x"); got != want {
			t.Errorf("RoutedAs(%s) = %v, want %v", path, got, want)
		}
	}
	if !httpapi.RoutedAs(e, http.MethodGet, "/v1/credentials/health/health", "/v1/credentials/:id/health") {
		t.Error("the id health of /v1/credentials/:id/health is a parameter")
	}
	if !httpapi.RoutedAs(http.NotFoundHandler(), http.MethodGet, "/x", "/y") {
		t.Error("a handler that is no echo is not checked")
	}
}

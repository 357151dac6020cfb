package httpapi

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// RoutedAs reports whether h, the server's echo, routes method and path
// (escaped, as a request's RawPath) to the route pattern: echo's pattern
// of that route, each ":name" segment any parameter. An in-process read
// of one resource (GraphQL's bridge, the console) puts an id in a
// parameter's place, and a route of its own beside the parameter's (GET
// /v1/credentials/health beside /v1/credentials/:id) takes the id that
// spells its name: such an id names no resource, and the caller answers
// it as not found rather than read the other route's answer as the
// resource. A handler that is no echo is not checked (true).
func RoutedAs(h http.Handler, method, path, pattern string) bool {
	e, ok := h.(*echo.Echo)
	if !ok {
		return true
	}
	c := e.NewContext(nil, nil)
	e.Router().Find(method, path, c)
	got, want := strings.Split(c.Path(), "/"), strings.Split(pattern, "/")
	if len(got) != len(want) {
		return false
	}
	for i, s := range want {
		if strings.HasPrefix(s, ":") != strings.HasPrefix(got[i], ":") || !strings.HasPrefix(s, ":") && s != got[i] {
			return false
		}
	}
	return true
}

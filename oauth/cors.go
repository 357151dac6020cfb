package oauth

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// Cross-origin requests (the Fetch standard's CORS protocol). A browser
// app (a single-page app: a public client doing the code flow with PKCE)
// calls the token, revocation and userinfo endpoints from its own origin.
// The browser lets its script read an answer only if the answer names
// that origin in Access-Control-Allow-Origin. An app's origins are the
// origins of its approved redirect URIs (Keycloak's "+" web origins): the
// page that receives the code is the page that redeems it. A redirect URI
// on a loopback IP literal matches at any port (RFC 8252 §7.3, fosite's
// rule), so its origin does too. No answer allows credentials (cookies): these endpoints take none.
//
// The discovery documents and the JWKS are public: any origin may read
// them (httpapi.AnyOrigin).

// corsHeaders are the request headers a preflight allows (the OAuth
// endpoints read no others); corsMaxAge is how long a browser may keep a
// preflight's answer, in seconds.
const (
	corsHeaders = "Authorization, Content-Type"
	corsMaxAge  = "600"
)

// Preflight answers a CORS preflight request (an OPTIONS with Origin and
// Access-Control-Request-Method) to an endpoint serving methods: for any
// origin, since what the answer to the actual request allows is decided
// on that answer, once the client is known. An OPTIONS that is no
// preflight is answered 204 with Allow, as the router does.
func Preflight(methods string) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Allow", "OPTIONS, "+methods)
		origin := c.Request().Header.Get("Origin")
		if origin != "" && c.Request().Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", methods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
		}
		return c.NoContent(http.StatusNoContent)
	}
}

// corsForClient lets the request's Origin read the answer when it is an
// origin of the client the request names (presentedClient: the Basic
// credentials' user, or the form's client_id). The client is looked up as
// the answer's header is written, after the handler parsed the form; a
// client that is not found allows nothing. A request without Origin costs
// one header lookup.
func (o *Server) corsForClient(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		origin := c.Request().Header.Get("Origin")
		if origin == "" {
			return next(c)
		}
		c.Response().Header().Add("Vary", "Origin")
		c.Response().Before(func() {
			if id := presentedClient(c.Request()); id != "" {
				o.allowOrigin(c.Request().Context(), c.Response().Header(), origin, id)
			}
		})
		return next(c)
	}
}

// AllowOrigin lets the request's Origin read the answer when it is an
// origin of client clientID's approved redirect URIs (userinfo calls it
// with the client of the verified token). Without Origin it does nothing.
func (o *Server) AllowOrigin(c echo.Context, clientID string) {
	if origin := c.Request().Header.Get("Origin"); origin != "" {
		c.Response().Header().Add("Vary", "Origin")
		o.allowOrigin(c.Request().Context(), c.Response().Header(), origin, clientID)
	}
}

func (o *Server) allowOrigin(ctx context.Context, h http.Header, origin, clientID string) {
	cl, err := o.ClientByID(ctx, clientID)
	if err == nil && originOf(cl.GetRedirectURIs(), origin) {
		h.Set("Access-Control-Allow-Origin", origin)
	}
}

// originOf reports whether origin (scheme://host[:port], as a browser
// sends it) is the origin of one of the redirect URIs, one on a loopback
// IP literal at any port.
func originOf(redirects []string, origin string) bool {
	o, err := url.Parse(origin)
	if err != nil || o.Path != "" || o.RawQuery != "" || o.User != nil || o.Host == "" {
		return false
	}
	for _, r := range redirects {
		u, err := url.Parse(r)
		if err != nil || !strings.EqualFold(u.Scheme, o.Scheme) {
			continue
		}
		if strings.EqualFold(u.Host, o.Host) || (loopbackIP(u.Hostname()) && u.Hostname() == o.Hostname()) {
			return true
		}
	}
	return false
}

// loopbackIP reports whether host is a loopback IP literal.
func loopbackIP(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

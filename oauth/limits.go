package oauth

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
)

// errSlowDown is the OAuth endpoints' 429 (API.md "Authentication of the
// platform API"): RFC 6749 §5.2's error shape with the slow_down code of
// RFC 8628 §3.5, which tells a client to wait before it retries.
var errSlowDown = &fosite.RFC6749Error{
	ErrorField:       "slow_down",
	DescriptionField: "Too many requests or failed client authentications; retry after the number of seconds in Retry-After.",
	CodeField:        http.StatusTooManyRequests,
}

// limitAuth wraps an OAuth endpoint that authenticates its caller with
// the failure budgets: a request from an address, or naming a client_id
// from an address, whose budget of failed authentications is spent is
// answered 429 before anything is checked; an answer of 401 (a failed
// client authentication) spends one.
func (o *Server) limitAuth(endpoint string, next echo.HandlerFunc) echo.HandlerFunc {
	lim := o.cfg.Limits
	if lim == nil {
		return next
	}
	return func(c echo.Context) error {
		r := c.Request()
		addr := sourceAddress(r)
		if lim.Suspect(addr) { // else the common case: nothing failed from addr lately
			if err := r.ParseForm(); err != nil {
				if p, ok := tooLarge(err); ok {
					return p
				}
			}
			if wait, ok := lim.Admit(presentedClient(r), addr); !ok {
				return o.slowDown(c, wait)
			}
		}
		err := next(c)
		if c.Response().Status == http.StatusUnauthorized {
			lim.Failed(endpoint, presentedClient(r), addr)
		}
		return err
	}
}

// spend charges a request of the authenticated client clientID to its
// OAuth budget; false when the answer is the 429 written.
func (o *Server) spend(c echo.Context, clientID string) bool {
	wait, ok := o.cfg.Limits.Spend(httpapi.BudgetOAuth, clientID)
	if !ok {
		_ = o.slowDown(c, wait)
	}
	return ok
}

// slowDown writes the 429 slow_down answer with Retry-After.
func (o *Server) slowDown(c echo.Context, wait time.Duration) error {
	return writeError(c, errSlowDown.CodeField, errSlowDown.ErrorField, errSlowDown.DescriptionField, wait)
}

// presentedClient is the client_id a request names, authenticated or
// not: the HTTP Basic user form-decoded as client authentication decodes
// it (RFC 6749 §2.3.1: secretCredentials), so that "%61dmin" is the
// client "admin" here as there; else the form's client_id once the
// endpoint parsed the form; "" when it names none. A user that does not
// decode is taken as sent (its authentication fails as invalid_request).
func presentedClient(r *http.Request) string {
	if user, _, ok := r.BasicAuth(); ok {
		if id, err := url.QueryUnescape(user); err == nil {
			return id
		}
		return user
	}
	return r.PostForm.Get("client_id")
}

// sourceAddress is the host of the connection's peer address. Forwarding
// headers are not believed: anyone can send them.
func sourceAddress(r *http.Request) string { return hostOf(r.RemoteAddr) }

// hostOf is the host of a peer address (host:port, [IPv6]:port).
func hostOf(a string) string {
	if i := strings.LastIndexByte(a, ':'); i > 0 && !strings.HasSuffix(a[:i], ":") {
		a = a[:i]
	}
	return strings.TrimSuffix(strings.TrimPrefix(a, "["), "]")
}

// authenticate runs attempt, a client authentication through fosite; when
// it fails with invalid_client it waits until the projections hold every
// control-plane event appended so far, then runs it once more. Every
// failed authentication costs that one wait, whether the client_id is
// unknown or the secret wrong, so the time of the answer says nothing
// about which (issue 12 point 8); and a client or secret registered a
// moment ago through another instance is found (read-your-writes).
func (o *Server) authenticate(ctx context.Context, attempt func() error) error {
	err := attempt()
	if err == nil || fosite.ErrorToRFC6749Error(err).ErrorField != fosite.ErrInvalidClient.ErrorField || httpapi.IsUnavailable(err) {
		return err
	}
	o.catchUps.Inc()
	if cerr := o.catchUpClients(ctx); cerr != nil {
		return cerr
	}
	return attempt()
}

// catchUpClients waits until the projections have applied the control
// stream up to its last sequence read now (where apps and their secrets
// are).
func (o *Server) catchUpClients(ctx context.Context) error {
	if o.cfg.ControlSeq == nil {
		if o.cfg.CatchUp == nil {
			return nil
		}
		return o.cfg.CatchUp(ctx)
	}
	seq, err := o.cfg.ControlSeq(ctx)
	if err != nil {
		return fmt.Errorf("oauth: read the control stream's last sequence: %w", err)
	}
	return o.cfg.WaitFor(ctx, events.Control, seq)
}

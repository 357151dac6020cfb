package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"code.dny.dev/ssrf"
	"github.com/labstack/echo/v4"
	"golang.org/x/net/http/httpguts"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/vault"
	"github.com/gatehouse/gatehouse/webhooks"
)

// ScopeUse is the built-in scope of the use of credentials.
const ScopeUse = "credentials:use"

// PathPrefix is where the proxy serves; the edge's 1 MiB body limit does
// not apply under it (the proxy bounds its bodies itself).
const PathPrefix = "/v1/proxy/"

// Defaults of Config.
const (
	DefaultMaxBody   = 64 << 20
	DefaultRetryBody = 1 << 20
	DefaultTimeout   = 55 * time.Second
)

// Config configures the proxy (and token exchange).
type Config struct {
	Vault *vault.Vault
	// Transport sends the proxied requests: the webhooks' SSRF-guarded
	// transport (webhooks.NewClient(…).Transport), which refuses private
	// addresses at every connection unless allowed.
	Transport http.RoundTripper
	// MaxRequestBody and MaxResponseBody bound the streamed bodies
	// (default DefaultMaxBody each): a longer request is 413, a longer
	// answer is cut (the connection aborted).
	MaxRequestBody, MaxResponseBody int64
	// RetryBody is the largest request body kept in memory so that an
	// upstream 401 can be retried after a refresh (default
	// DefaultRetryBody). A longer body streams and is never retried: its
	// 401 is answered as is.
	RetryBody int64
	// Timeout bounds a whole proxied exchange, both bodies included
	// (default DefaultTimeout, under the server's 60 s write timeout).
	Timeout time.Duration
	// Rate and Burst limit the requests per credential and second on
	// this instance (GATEHOUSE_PROXY_RATE, GATEHOUSE_PROXY_BURST; 0: no
	// limit).
	Rate  float64
	Burst int
	// Usage counts use (nil: not counted).
	Usage  *Usage
	Logger *slog.Logger
	Now    func() time.Time
}

// Proxy serves /v1/proxy/{credential}/{path}.
type Proxy struct {
	cfg Config
	rp  *httputil.ReverseProxy
	// transport is the retrying transport (of the reverse proxy and of
	// forward); h1 its HTTP/1.1 client, nil when Config.Transport has no
	// dialer to take (forward is then never used).
	transport *retrying
	h1        *h1Transport
	auth      *oauth.Authenticator
	// lane serves the route's HTTP/1.1 connections itself, once
	// attached (Lane); nil: every request goes through echo.
	lane    *Lane
	flights singleflight.Group
	limits  boundedMap[string, *rate.Limiter]
	tokens  tokenCache
	// resolved keeps the credentials found by reference (resolve).
	resolved boundedMap[resolveKey, *resolvedCredential]
	// deaf notes, per credential, until when an upstream 401 is answered
	// as is: a retry with a freshly refreshed token was refused too, so
	// the 401 is not about the token (a path the provider's scopes do not
	// cover, say), and refreshing again would only churn the provider's
	// tokens and grow the log (review r1).
	deafMu sync.Mutex
	deaf   map[string]time.Time
}

// deafFor is how long a credential's 401s are answered as is after a
// retry with a fresh token was refused too.
const deafFor = time.Minute

// retries401 reports whether an upstream 401 to cl is worth one refresh
// and one retry, on either way of forwarding: not after a retry, not for
// a credential with nothing to refresh with (no refresh token: it needs
// reauthorization, and the provider's 401 comes back as is), not while
// the credential is deaf.
func (p *Proxy) retries401(cl *call) bool {
	return !cl.retried && vault.Refreshable(cl.cred) && !p.isDeaf(cl.cred.ID, time.Now())
}

func (p *Proxy) isDeaf(id string, now time.Time) bool {
	p.deafMu.Lock()
	defer p.deafMu.Unlock()
	until, ok := p.deaf[id]
	if ok && !now.Before(until) {
		delete(p.deaf, id)
		return false
	}
	return ok
}

func (p *Proxy) markDeaf(id string, now time.Time) {
	p.deafMu.Lock()
	defer p.deafMu.Unlock()
	if p.deaf == nil {
		p.deaf = map[string]time.Time{}
	}
	if len(p.deaf) >= maxCachedTokens {
		for k, until := range p.deaf {
			if !now.Before(until) {
				delete(p.deaf, k)
			}
		}
	}
	p.deaf[id] = now.Add(deafFor)
}

// bufferPool reuses the reverse proxy's copy buffers (32 KiB each; one
// per answer otherwise, which the collector then scans).
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(copyBuffers.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }

// tokenCache keeps the opened access token of each credential's current
// version (opening is an AES-GCM open and a JSON decode per request
// otherwise). A new version (a refresh, a rollback) misses and replaces
// it; it holds at most about maxCachedTokens credentials.
type tokenCache struct {
	m boundedMap[string, cachedToken]
}

type cachedToken struct {
	version int
	token   string
	exp     *time.Time
}

const maxCachedTokens = 10000

func (tc *tokenCache) get(c projections.Credential) (cachedToken, bool) {
	t, ok := tc.m.load(c.ID)
	return t, ok && t.version == c.Current && c.Current != 0
}

func (tc *tokenCache) put(id string, t cachedToken) {
	tc.m.store(id, t)
}

// New returns the proxy of cfg.
func New(cfg Config) *Proxy {
	if cfg.MaxRequestBody <= 0 {
		cfg.MaxRequestBody = DefaultMaxBody
	}
	if cfg.MaxResponseBody <= 0 {
		cfg.MaxResponseBody = DefaultMaxBody
	}
	if cfg.RetryBody <= 0 {
		cfg.RetryBody = DefaultRetryBody
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Proxy{cfg: cfg}
	p.limits.max = maxLimiters
	p.tokens.m.max = maxCachedTokens
	p.resolved.max = maxResolved
	base := cfg.Transport
	if h1 := newH1Transport(cfg.Transport); h1 != nil {
		base = h1
		p.h1 = h1
	}
	p.transport = &retrying{p: p, base: base}
	p.rp = &httputil.ReverseProxy{
		Rewrite:   p.rewrite,
		Transport: p.transport,
		// 0: answers of unknown length (streams, event streams) are
		// flushed at every write, those of known length as the server's
		// buffer fills.
		FlushInterval:  0,
		BufferPool:     bufferPool{},
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return p
}

// Methods are the methods the proxy forwards.
var Methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// Register adds the proxy's route: /v1/proxy/{credential}/{path…}. Its
// handler authenticates the caller itself (Authenticator.Authenticate,
// what Require does) rather than through route middleware, which echo
// builds again for every request.
func (p *Proxy) Register(e *echo.Echo, auth *oauth.Authenticator) {
	p.auth = auth
	e.Match(Methods, PathPrefix+":credential/*", p.serve)
}

// call is one proxied request's state, shared by the rewrite, the
// retrying transport and the error handler.
type call struct {
	cred    projections.Credential
	appID   string
	token   string
	version int
	target  *url.URL
	// base, rest and query make the target: base_url, the path after the
	// credential (escaped), the query. target is them joined (exchange).
	base        *parsedBase
	rest, query string
	replay      []byte // the buffered body (replayable), nil when streamed
	streamed    bool   // the body streams: no retry
	retried     bool
	deadline    time.Time // the end of the exchange (Config.Timeout)
	err         error     // the transport's error, answered as a problem
	// in and out count the bodies' bytes (in is added to by the
	// transport's writer, which may outlive the answer).
	in, out atomic.Int64
	// answer is the answer's body, bounded (bound).
	answer limited
	// hints is the reverse proxy's writer (reverse), in the call, which
	// is allocated already.
	hints informationalWriter
}

type callKey struct{}

func callOf(r *http.Request) *call { return r.Context().Value(callKey{}).(*call) }

// serve is the route's handler: a request the lane takes (its
// connection, from this request on) or, otherwise, handle's.
func (p *Proxy) serve(c echo.Context) error {
	if l := p.lane; l != nil && l.take(c) {
		return nil
	}
	res := c.Response()
	return p.handle(echoAnswer{res}, c.Request(), c.Param("credential"))
}

// answerWriter is the writer of a proxied answer, which tells its status
// and whether the answer has begun.
type answerWriter interface {
	http.ResponseWriter
	answered() (status int, committed bool)
}

// echoAnswer is the answerWriter of a request served through echo.
type echoAnswer struct{ *echo.Response }

func (a echoAnswer) answered() (int, bool) { return a.Status, a.Committed }

// handle authorizes the caller, resolves the credential ref and its
// token, and forwards the request.
func (p *Proxy) handle(w answerWriter, req *http.Request, ref string) error {
	cl, err := p.decide(req.Context(), proxied{authorization: req.Header.Get("Authorization"), remote: req.RemoteAddr, ref: ref,
		path: req.URL.EscapedPath(), query: req.URL.RawQuery, length: req.ContentLength})
	if err != nil {
		return err
	}
	return p.exchange(w, req, cl)
}

// exchange makes the call cl decided for req, its body read or streamed,
// and answers it on w.
func (p *Proxy) exchange(w answerWriter, req *http.Request, cl *call) error {
	var err error
	if cl.target, err = cl.base.join(cl.rest, cl.query); err != nil {
		return err
	}
	if req.Body != nil && req.Body != http.NoBody {
		body := http.MaxBytesReader(w, req.Body, p.cfg.MaxRequestBody)
		// A body that fits in RetryBody is read now and can be sent
		// twice; a longer one streams (its first RetryBody bytes, then
		// the rest) and a 401 to it is not retried.
		buf, err := io.ReadAll(io.LimitReader(body, p.cfg.RetryBody+1))
		if err != nil {
			return bodyError(err, p.cfg.MaxRequestBody)
		}
		cl.in.Store(int64(len(buf)))
		if int64(len(buf)) <= p.cfg.RetryBody {
			cl.replay = buf
			req.Body = io.NopCloser(bytes.NewReader(buf))
			req.ContentLength = int64(len(buf))
		} else {
			cl.streamed = true
			req.Body = &counted{r: io.MultiReader(bytes.NewReader(buf), body), n: &cl.in, c: body, skip: int64(len(buf))}
		}
	}
	if req.Trailer != nil {
		// Read whole with a body held in memory; of a streamed body, the
		// ones it announced (the reverse proxy sends its copy of them).
		name, _ := injected(cl.cred.HeaderTemplate, "")
		dropTrailers(req, name)
	}
	cl.deadline = time.Now().Add(p.cfg.Timeout)
	if p.forwards(req, cl) {
		// The call is handed down, and its deadline kept by the h1
		// transport's watcher: no context per request.
		p.forward(w, req, cl)
	} else {
		p.reverse(w, req, cl)
	}
	status, committed := w.answered()
	p.cfg.Usage.count(cl.cred.Tenant, cl.cred.ID, cl.appID, status, cl)
	if cl.err != nil && !committed {
		return p.problemOf(cl.err)
	}
	return nil
}

// proxied is what decide reads of a proxied request.
type proxied struct {
	authorization, remote string // its Authorization header, its peer's address
	ref                   string // the credential named
	path, query           string // its path (escaped, as sent) and query
	length                int64  // its declared body length (-1: unknown)
}

// decide authorizes the caller of rq, resolves the credential and its
// token, and returns the call to make: the rule of the route whoever
// reads the request (handle, or the lane's own forwarding).
func (p *Proxy) decide(ctx context.Context, rq proxied) (*call, error) {
	pr, err := p.auth.AuthenticateHeader(ctx, rq.authorization, rq.remote, ScopeUse)
	if err != nil {
		return nil, err
	}
	cred, err := p.resolve(ctx, pr, rq.ref)
	if err != nil {
		return nil, err
	}
	if err := Allowed(pr, cred); err != nil {
		p.cfg.Usage.failed(cred.Tenant, cred.ID, pr.AppID)
		return nil, err
	}
	if cred.BaseURL == "" {
		return nil, httpapi.Conflict("the credential has no base_url: set one to use the proxy")
	}
	if !p.admit(cred.ID) {
		p.cfg.Usage.failed(cred.Tenant, cred.ID, pr.AppID)
		return nil, httpapi.RateLimited(time.Second)
	}
	base, rest, err := targetOf(cred.BaseURL, rq.path)
	if err != nil {
		return nil, err
	}
	if strings.IndexByte(rq.query, '#') >= 0 {
		// net/http's server takes a '#' after the '?' into the query, and
		// the request line would carry it upstream as sent: no request
		// target holds one (RFC 9112 section 3.2; review h1).
		return nil, httpapi.BadRequest("the query must not hold '#' (a fragment is never sent)")
	}
	if rq.length > p.cfg.MaxRequestBody {
		return nil, httpapi.PayloadTooLarge(p.cfg.MaxRequestBody)
	}
	cl := &call{cred: cred, appID: pr.AppID, base: base, rest: rest, query: rq.query}
	cl.token, cl.version, err = p.token(ctx, cred)
	if err != nil {
		p.cfg.Usage.failed(cred.Tenant, cred.ID, pr.AppID)
		return nil, err
	}
	return cl, nil
}

// reverse hands the call's request to the reverse proxy, the call in its
// context, bounded by the call's deadline.
func (p *Proxy) reverse(w http.ResponseWriter, req *http.Request, cl *call) {
	ctx, cancel := context.WithDeadline(context.WithValue(req.Context(), callKey{}, cl), cl.deadline)
	defer cancel()
	cl.hints.ResponseWriter = w
	if a, ok := w.(echoAnswer); ok {
		cl.hints.edge = a.Header().Clone()
	}
	p.rp.ServeHTTP(&cl.hints, req.WithContext(ctx))
	cl.hints.restore() // for a problem answered after a 1xx
}

// informationalWriter is the reverse proxy's writer: the reverse proxy
// passes an upstream's informational answers (103 Early Hints, …) on
// with their fields as they came (its Got1xxResponse copies them to the
// header and writes it, before ModifyResponse could see them), so they
// lose here the fields never passed back (stripAnswerHeaders' and the
// hop-by-hop ones) first; the reverse proxy clears the header after
// each (review h2).
//
// Through echo (a request the lane does not take), a 1xx is written by
// the writer under echo's response, which would take it for the final
// status (committed: the final WriteHeader dropped, the answer a 200
// whatever the upstream's status, or an empty 200 for an exchange that
// failed after it); the header the edge set before (edge: its
// X-Request-Id), which the reverse proxy's clearing takes away, is put
// back in front of the final answer's (review h1).
type informationalWriter struct {
	http.ResponseWriter
	edge    http.Header
	cleared bool
}

func (w *informationalWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		h := w.Header()
		removeHopByHop(h)
		dropNotOurs(h)
		if a, ok := w.ResponseWriter.(echoAnswer); ok {
			w.cleared = true
			a.Writer.WriteHeader(code)
			return
		}
	} else {
		w.restore()
	}
	w.ResponseWriter.WriteHeader(code)
}

// restore puts the edge's header back in front of the answer's, once
// the reverse proxy cleared it after a 1xx.
func (w *informationalWriter) restore() {
	if !w.cleared {
		return
	}
	w.cleared = false
	h := w.Header()
	for name, values := range w.edge {
		h[name] = append(slices.Clip(values), h[name]...)
	}
}

// Unwrap is the writer under w (http.ResponseController's flushes and
// hijacks).
func (w *informationalWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Allowed is the rule of use (proxy and exchange): the app is named in
// the credential's grants, and a user's own credential is used only
// with that user's delegated tokens.
func Allowed(pr oauth.Principal, cred projections.Credential) error {
	if !slices.Contains(cred.Grants, pr.AppID) {
		return httpapi.Forbidden("the app is not in the credential's grants")
	}
	if cred.OwnerUserID != "" && pr.UserID != cred.OwnerUserID {
		return httpapi.Forbidden("the credential belongs to a user: only that user's tokens may use it")
	}
	return nil
}

// resolve finds the credential named ref (an id or a name) in the
// caller's tenant. A user's delegated token selects that user's own
// credential of the name first, then the tenant's. A miss catches up
// with the log once (a credential created a moment ago on another
// instance).
//
// When the store counts its changes (projections.ChangeCounter: the
// memory store), a credential found is kept with the change counts of the
// kinds read to find it (the credential, its refresh state, the name
// keys), and given again while none of them has moved: any change of a
// credential (grants, status, a new version, a deletion) is a commit of
// those kinds, so the next request reads it again.
func (p *Proxy) resolve(ctx context.Context, pr oauth.Principal, ref string) (projections.Credential, error) {
	cc, ok := p.cfg.Vault.Store.(projections.ChangeCounter)
	if !ok {
		return Resolve(ctx, p.cfg.Vault, pr, ref)
	}
	k := resolveKey{tenant: pr.Tenant, user: pr.UserID, ref: ref}
	if rc, ok := p.resolved.load(k); ok && rc.stamps.Current(cc) {
		return rc.cred, nil
	}
	// A miss only: the stamping reader escapes to the heap.
	sr, _ := projections.Stamping(p.cfg.Vault.Store)
	c, err := lookup(ctx, sr, pr, ref)
	if err == nil {
		p.resolved.store(k, &resolvedCredential{cred: c, stamps: sr.Stamps})
		return c, nil
	}
	// A miss catches up with the log once (Resolve), uncached.
	return Resolve(ctx, p.cfg.Vault, pr, ref)
}

// resolveKey is what a credential reference resolves from: the caller's
// tenant and user, and the reference (an id or a name).
type resolveKey struct{ tenant, user, ref string }

// resolvedCredential is a credential found and the change counts of the
// kinds it was read from. The credential is shared by the requests that
// take it from the cache: nothing on the proxy's path changes it.
type resolvedCredential struct {
	cred   projections.Credential
	stamps projections.Stamps
}

// maxResolved bounds the credentials kept resolved (past it they are all
// forgotten: they are read again).
const maxResolved = 10000

// Resolve is resolve for the proxy and the exchange.
func Resolve(ctx context.Context, v *vault.Vault, pr oauth.Principal, ref string) (projections.Credential, error) {
	for attempt := 0; ; attempt++ {
		c, err := lookup(ctx, v.Store, pr, ref)
		if !errors.Is(err, projections.ErrNotFound) || attempt > 0 || v.CatchUp == nil {
			if errors.Is(err, projections.ErrNotFound) {
				return c, httpapi.NotFound("credential")
			}
			return c, err
		}
		if err := v.CatchUp(ctx); err != nil {
			return c, err
		}
	}
}

func lookup(ctx context.Context, r projections.Reader, pr oauth.Principal, ref string) (projections.Credential, error) {
	c, err := projections.GetCredential(ctx, r, pr.Tenant, ref)
	if !errors.Is(err, projections.ErrNotFound) {
		return c, err
	}
	if pr.UserID != "" {
		c, err = projections.CredentialByName(ctx, r, pr.Tenant, pr.UserID, ref)
		if !errors.Is(err, projections.ErrNotFound) {
			return c, err
		}
	}
	return projections.CredentialByName(ctx, r, pr.Tenant, "", ref)
}

// token is the access token to inject: the current one, or, when it has
// expired, the one a refresh (one per version) gives.
func (p *Proxy) token(ctx context.Context, cred projections.Credential) (string, int, error) {
	now := p.cfg.Now()
	usable := cred.Status != events.CredentialStatusRevoked && cred.Status != events.CredentialStatusFailed
	if t, ok := p.tokens.get(cred); ok && usable && (t.exp == nil || now.Before(*t.exp)) {
		return t.token, t.version, nil
	}
	tok, ver, err := Token(ctx, p.cfg.Vault, &p.flights, cred, now)
	if err == nil && ver == cred.Current {
		p.tokens.put(cred.ID, cachedToken{version: ver, token: tok, exp: cred.ExpiresAt()})
	}
	return tok, ver, err
}

// Token is the credential's usable access token at now: an expired one
// is refreshed first (one refresh per version: single flight here, the
// vault's claim across instances).
func Token(ctx context.Context, v *vault.Vault, flights *singleflight.Group, cred projections.Credential, now time.Time) (string, int, error) {
	tok, ver, exp, err := v.AccessToken(cred)
	if err != nil {
		return "", 0, tokenProblem(err)
	}
	if exp == nil || now.Before(*exp) {
		return tok, ver, nil
	}
	return refreshed(ctx, v, flights, cred, ver)
}

// refreshed refreshes version stale of cred (once per instance at a time)
// and returns the new token.
func refreshed(ctx context.Context, v *vault.Vault, flights *singleflight.Group, cred projections.Credential, stale int) (string, int, error) {
	key := cred.ID + "/" + strconv.Itoa(stale)
	res, err, _ := flights.Do(key, func() (any, error) {
		// Detached from the first caller's cancellation: the others wait
		// on the same refresh.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 40*time.Second)
		defer cancel()
		return v.RefreshVersion(rctx, cred.Tenant, cred.ID, stale)
	})
	if err != nil {
		var ue *vault.UpstreamError
		if errors.As(err, &ue) {
			return "", 0, httpapi.UpstreamError("the provider refused the credential's refresh: " + ue.Code)
		}
		return "", 0, err
	}
	tok, ver, _, err := v.AccessToken(res.(projections.Credential))
	if err != nil {
		return "", 0, tokenProblem(err)
	}
	return tok, ver, nil
}

func tokenProblem(err error) error {
	if errors.Is(err, vault.ErrNoToken) {
		return httpapi.Conflict("the credential has no usable access token (authorize it, or see its health)")
	}
	return err
}

// admit spends one request of the credential's rate limit.
func (p *Proxy) admit(id string) bool {
	if p.cfg.Rate <= 0 {
		return true
	}
	l, ok := p.limits.load(id)
	if !ok {
		burst := p.cfg.Burst
		if burst <= 0 {
			burst = max(1, int(p.cfg.Rate))
		}
		l = p.limits.loadOrStore(id, rate.NewLimiter(rate.Limit(p.cfg.Rate), burst))
	}
	return l.Allow()
}

// maxLimiters bounds the rate limiters kept (past it they are all
// forgotten: they refill).
const maxLimiters = 65536

// targetURL is base_url joined with the path after the credential, and
// the request's query. A path that climbs out of base_url's path (a "."
// or ".." segment, raw or escaped) is refused.
func targetURL(base, raw, query string) (*url.URL, error) {
	b, rest, err := targetOf(base, raw)
	if err != nil {
		return nil, err
	}
	return b.join(rest, query)
}

// targetOf is base_url parsed, and the path after the credential in raw
// (the request's escaped path), refused when it climbs out of it.
func targetOf(base, raw string) (*parsedBase, string, error) {
	b, ok := baseURLs.load(base)
	if !ok {
		u, err := url.Parse(base)
		if err != nil {
			return nil, "", httpapi.Conflict("the credential's base_url does not parse")
		}
		b = &parsedBase{u: u, path: strings.TrimSuffix(u.EscapedPath(), "/"), addr: dialAddr(u)}
		b.host, b.hostOK = hostField(u.Host)
		baseURLs.store(base, b)
	}
	rest := strings.TrimPrefix(raw, PathPrefix)
	_, rest, _ = strings.Cut(rest, "/") // drop the credential
	for left, more := rest, true; more; {
		var seg string
		seg, left, more = strings.Cut(left, "/")
		s, err := url.PathUnescape(seg)
		// A backslash, or a dot segment with ";" parameters ("..;"), is a
		// dot segment to some servers (IIS, Tomcat, Spring): refused too.
		dot, _, _ := strings.Cut(s, ";")
		if err != nil || dot == "." || dot == ".." || strings.ContainsAny(s, "/\\") {
			return nil, "", httpapi.BadRequest("the path must not hold '.' or '..' segments, escaped slashes or backslashes")
		}
	}
	return b, rest, nil
}

// parsedBase is a base_url parsed (never changed: a target is a copy),
// with its escaped path without a trailing slash, and its host:port for
// http:// (the port defaulted).
type parsedBase struct {
	u          *url.URL
	path, addr string
	// host is the Host field sent for it (hostField); hostOK false when
	// its host has none (the request fails as req.Write fails it).
	host   string
	hostOK bool
}

// dialAddr is the host:port net/http's transport dials for the http://
// URL u: its host's ASCII (punycode) form when it is an IDN, as written
// otherwise (webhooks.DialHost, the mapping webhook URLs are checked
// with too), and port 80 when it names none. h1Transport dialled an IDN
// as written, which no resolver takes.
func dialAddr(u *url.URL) string {
	host := u.Hostname()
	if v, err := webhooks.DialHost(host); err == nil {
		host = v
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(host, port)
}

// hostField is the Host field req.Write sends for a URL's host (as of Go
// 1.26): an IDN's ASCII (punycode) form, empty when it is not a valid
// field, without an IPv6 zone; ok is false when req.Write refuses the
// host (a name that has no ASCII form). The raw way writes it (review
// h2: it wrote the host as it is, and none for an IDN).
func hostField(host string) (string, bool) {
	host, err := httpguts.PunycodeHostPort(host)
	if err != nil {
		return "", false
	}
	if !httpguts.ValidHostHeader(host) {
		return "", true
	}
	if strings.HasPrefix(host, "[") {
		if i := strings.LastIndex(host, "]"); i >= 0 {
			if j := strings.LastIndex(host[:i], "%"); j >= 0 {
				host = host[:j] + host[i:]
			}
		}
	}
	return host, true
}

// join is the target of the path rest (escaped) and query under b.
func (b *parsedBase) join(rest, query string) (*url.URL, error) {
	out := *b.u
	joined := b.path + "/" + rest
	out.RawPath = joined
	var err error
	if out.Path, err = url.PathUnescape(joined); err != nil {
		return nil, httpapi.BadRequest("the path does not parse")
	}
	out.RawQuery = query
	out.Fragment = ""
	return &out, nil
}

// baseURLs keeps the credentials' base URLs parsed (never changed: a
// target is a copy).
var baseURLs = boundedMap[string, *parsedBase]{max: maxResolved}

// ourCookies are the cookies Gatehouse sets (idp's session and CSRF
// cookies, the console's session and sign-in): never forwarded. The
// console's hold its sealed session (the person's tokens), which the
// upstream could replay at /console. On an https issuer each is named
// with the __Host- prefix (idp.CookieName): both spellings stay.
var ourCookies = []string{"gh_session", "gh_csrf", "gh_console", "gh_console_auth"}

// ourCookie reports whether name is one of ourCookies, prefixed or not.
func ourCookie(name string) bool {
	return slices.Contains(ourCookies, strings.TrimPrefix(name, "__Host-"))
}

// rewrite builds the outbound request (ReverseProxy has removed the
// hop-by-hop headers and X-Forwarded-For, -Host and -Proto): Gatehouse's
// Authorization and cookies go, and the other forwarding fields
// (notForwarded, X-Forwarded-*), the credential's token comes in its
// header.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	cl := callOf(pr.In)
	// Canonical names deleted from the map directly (Header.Del
	// canonicalizes every name again, per request).
	delete(pr.Out.Header, "Authorization")
	delete(pr.Out.Header, "X-Request-Id")
	dropForwarded(pr.Out.Header)
	p.prepare(pr.In, pr.Out, cl)
}

// prepare points out at the call's target and sets its headers from
// in's (out's holds in's already, without the hop-by-hop ones, the
// forwarding ones, Authorization and X-Request-Id): Gatehouse's cookies
// go, the credential's token comes in its header.
func (p *Proxy) prepare(in, out *http.Request, cl *call) {
	out.URL = cl.target
	out.Host = ""
	h := out.Header
	if cookies := in.Cookies(); len(cookies) > 0 {
		h.Del("Cookie")
		for _, ck := range cookies {
			if !ourCookie(ck.Name) {
				h.Add("Cookie", ck.String())
			}
		}
	}
	inject(h, cl.cred.HeaderTemplate, cl.token)
	if cl.replay != nil {
		body := cl.replay
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
}

// inject sets the credential's header (template "" is the default).
func inject(h http.Header, template, token string) {
	name, value := injected(template, token)
	h[name] = []string{value}
}

// injected is the credential's header (canonical) and its value with the
// token (template "" is the default).
func injected(template, token string) (string, string) {
	name, value, ok := vault.ParseHeaderTemplate(template)
	if !ok {
		name, value, _ = vault.ParseHeaderTemplate("")
	}
	return http.CanonicalHeaderKey(name), strings.Replace(value, vault.TokenPlaceholder, token, 1)
}

// retrying is the transport of the reverse proxy: an upstream 401 to a
// replayable request (no body, or one held in memory) is answered by one
// refresh of the token version sent and one retry with the new token.
type retrying struct {
	p    *Proxy
	base http.RoundTripper
}

func (t *retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.roundTrip(req, callOf(req))
}

// send sends req once: by the h1 transport with the call's deadline when
// it is the base.
func (t *retrying) send(req *http.Request, cl *call) (*http.Response, error) {
	if h1, ok := t.base.(*h1Transport); ok {
		return h1.roundTrip(req, cl.deadline)
	}
	return t.base.RoundTrip(req)
}

func (t *retrying) roundTrip(req *http.Request, cl *call) (*http.Response, error) {
	resp, err := t.send(req, cl)
	if err != nil {
		cl.err = err
		return nil, err
	}
	replayable := !cl.streamed && (req.Body == nil || req.Body == http.NoBody || req.GetBody != nil)
	if resp.StatusCode != http.StatusUnauthorized || !replayable || !t.p.retries401(cl) {
		return resp, nil
	}
	// Drop the 401's body (bounded) so the connection can be reused.
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	_ = resp.Body.Close()
	cl.retried = true
	tok, ver, err := refreshed(req.Context(), t.p.cfg.Vault, &t.p.flights, cl.cred, cl.version)
	if err != nil {
		cl.err = err
		return nil, err
	}
	cl.token, cl.version = tok, ver
	t.p.cfg.Usage.refreshed(cl.cred.Tenant, cl.cred.ID, cl.appID)
	again := req.Clone(req.Context())
	inject(again.Header, cl.cred.HeaderTemplate, tok)
	if req.GetBody != nil {
		if again.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	resp, err = t.send(again, cl)
	if err != nil {
		cl.err = err
		return resp, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		t.p.markDeaf(cl.cred.ID, time.Now())
	}
	return resp, nil
}

// modifyResponse bounds the answer: a declared length over the limit is
// refused before anything is written; an undeclared one is cut there.
// A 101 Switching Protocols is refused (502) as relay refuses it: the
// proxy passes no protocol switch on (the bounded body is no connection
// to switch to, so the reverse proxy refused it too, but left the
// upstream's connection open; an error here has it closed, review h1).
// A status below 100, which net/http's transport returns as a final
// answer (and WriteHeader panics at), is refused as malformed, as the
// proxy's own client refuses it (h1Transport.readHead).
func (p *Proxy) modifyResponse(resp *http.Response) error {
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return errSwitched
	}
	if err := malformedStatus(resp.StatusCode); err != nil {
		return err
	}
	return p.bound(resp, callOf(resp.Request))
}

// bound is modifyResponse for the call cl.
func (p *Proxy) bound(resp *http.Response, cl *call) error {
	if resp.ContentLength > p.cfg.MaxResponseBody {
		_ = resp.Body.Close()
		err := fmt.Errorf("%w (%d bytes, the limit is %d)", errTooLarge, resp.ContentLength, p.cfg.MaxResponseBody)
		cl.err = err
		return err
	}
	// In the call, which is allocated already (a call has one answer
	// passed on: a retried 401's is dropped before the retry's).
	cl.answer = limited{rc: resp.Body, left: p.cfg.MaxResponseBody, n: &cl.out}
	resp.Body = &cl.answer
	cl.answer.resp = resp
	stripAnswerHeaders(resp.Header)
	// The trailers announced: their values come at the body's end
	// (limited.Close drops those never passed back again).
	dropNotOurs(resp.Trailer)
	return nil
}

// notOurOrigin are answer headers of the upstream that would act on
// Gatehouse's own origin if passed through: cookies (a provider's cookie
// planted on the authorization server's origin, or one overwriting
// gh_session/gh_csrf: login CSRF, session fixation), and origin-wide
// policies (HSTS, Alt-Svc, Clear-Site-Data, CORS) that are the server's to
// set (review r1).
var notOurOrigin = []string{"Set-Cookie", "Set-Cookie2", "Clear-Site-Data", "Strict-Transport-Security", "Alt-Svc",
	"Public-Key-Pins", "Report-To", "Nel", "Refresh"}

// stripAnswerHeaders removes notOurOrigin and every Access-Control-*
// header from an upstream answer, and makes the answer inert in a browser
// (a sandboxing CSP, no content sniffing): a provider's HTML or script
// never runs with Gatehouse's origin.
func stripAnswerHeaders(h http.Header) {
	dropNotOurs(h)
	h["Content-Security-Policy"] = answerCSPValues[:1:1]
	h["X-Content-Type-Options"] = nosniffValues[:1:1]
}

// dropNotOurs removes notOurOrigin and every Access-Control-* field
// from h, an upstream answer's header or trailers (nil: none).
func dropNotOurs(h http.Header) {
	// The answer's header map holds canonical names (net/http reads them
	// so): notOurOrigin's, canonical too, are deleted from the map
	// directly.
	for _, name := range notOurOrigin {
		delete(h, name)
	}
	for name := range h {
		if strings.HasPrefix(name, "Access-Control-") {
			delete(h, name)
		}
	}
}

// The values stripAnswerHeaders sets, shared by every answer (full
// slices: nothing on the answer's way changes a header value in place, and
// an Add to them copies).
var answerCSPValues, nosniffValues = []string{answerCSP}, []string{"nosniff"}

const answerCSP = "sandbox; default-src 'none'; frame-ancestors 'none'"

// errorHandler records the transport's error; serve answers it as a
// problem (nothing has been written yet).
func (p *Proxy) errorHandler(_ http.ResponseWriter, r *http.Request, err error) {
	callOf(r).failed(err)
}

// failed records the call's first error.
func (cl *call) failed(err error) {
	if cl.err == nil {
		cl.err = err
	}
}

// problemOf is the answer to an exchange that reached no upstream answer.
func (p *Proxy) problemOf(err error) error {
	var prob *httpapi.Problem
	switch {
	case errors.As(err, &prob):
		return prob
	case errors.Is(err, context.DeadlineExceeded):
		return httpapi.UpstreamError("the upstream API did not answer in time")
	case errors.Is(err, context.Canceled):
		// The client went away (or the server is stopping): no one reads
		// the answer, and the upstream is not to blame.
		return httpapi.UpstreamError("the request was cancelled before the upstream API answered")
	case isRefused(err):
		return httpapi.UpstreamError("the connection to the upstream API was refused: its address is private, loopback or reserved")
	case errors.Is(err, errTooLarge):
		return httpapi.UpstreamError("the upstream answer is larger than the proxy's limit")
	}
	// A *url.Error names the whole upstream URL, whose query may hold a
	// caller's API key: log the operation and the cause only.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	p.cfg.Logger.Info("proxy: upstream unreachable", "err", err)
	return httpapi.UpstreamError("the upstream API is unreachable")
}

func isRefused(err error) bool {
	return errors.Is(err, ssrf.ErrProhibitedIP) || errors.Is(err, ssrf.ErrProhibitedPort) || errors.Is(err, ssrf.ErrProhibitedNetwork)
}

func bodyError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return httpapi.PayloadTooLarge(limit)
	}
	return httpapi.BadRequest("the request body could not be read")
}

// counted counts a streamed request body (past the bytes already counted).
type counted struct {
	r    io.Reader
	c    io.Closer
	n    *atomic.Int64
	skip int64
}

func (c *counted) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if c.skip > 0 {
		d := min(c.skip, int64(n))
		c.skip -= d
		c.n.Add(int64(n) - d)
	} else {
		c.n.Add(int64(n))
	}
	return n, err
}

func (c *counted) Close() error { return c.c.Close() }

var errTooLarge = errors.New("proxy: the upstream answer is over the limit")

// limited cuts an answer body at its limit (an error: the reverse proxy
// aborts the connection, so the client sees a truncated answer, not a
// complete-looking one) and counts it.
type limited struct {
	rc   io.ReadCloser
	left int64
	n    *atomic.Int64
	// resp is the answer whose body this is: its trailers, which reading
	// the body to its end fills (those announced, and any other), lose
	// the fields never passed back on Close, which the reverse proxy and
	// relay call before they copy them.
	resp *http.Response
}

func (l *limited) Read(b []byte) (int, error) {
	if l.left <= 0 {
		return 0, errTooLarge
	}
	if int64(len(b)) > l.left {
		b = b[:l.left+1]
	}
	n, err := l.rc.Read(b)
	if int64(n) > l.left {
		l.n.Add(l.left)
		l.left = -1
		return 0, errTooLarge
	}
	l.left -= int64(n)
	l.n.Add(int64(n))
	return n, err
}

func (l *limited) Close() error {
	err := l.rc.Close()
	if l.resp != nil {
		dropNotOurs(l.resp.Trailer)
	}
	return err
}

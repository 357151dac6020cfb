package proxy

import (
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// The proxy's own forwarder: the requests h1Transport sends (an http://
// upstream, no body or one held in memory of at most h1MaxBody bytes, no
// Upgrade) are forwarded by forward instead of httputil.ReverseProxy,
// doing what the reverse proxy does for them (as of Go 1.26) without its
// per-request cost: the deep copy of the request's headers, the client
// trace for 1xx answers (h1Transport skips them), the rewrite's request,
// the media type parse of every answer. Every other request (streamed
// bodies, https:// upstreams, upgrades) still goes through the reverse
// proxy (Proxy.rp), so the two behave alike where both apply.

// hopHeaders are the hop-by-hop headers removed both ways (RFC 7230
// section 6.1, and RFC 2616's list, as the reverse proxy removes them).
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// notForwarded are the request headers never sent upstream besides the
// hop-by-hop ones: the client's forwarding headers (those the reverse
// proxy's Rewrite mode strips, X-Real-Ip, and every other X-Forwarded-*
// field: forwardedName) and Gatehouse's own (its bearer token, its
// request id).
var notForwarded = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
	"X-Real-Ip", "Authorization", "X-Request-Id"}

// forwardedPrefix starts the names of the forwarding fields a proxy sets
// (X-Forwarded-Port, -Prefix, -Server, -Ssl, …; the reverse proxy strips
// only -For, -Host and -Proto): an upstream that trusts Gatehouse as its
// proxy would take a caller's for Gatehouse's word (the client's address,
// the scheme and port, the path prefix its links and redirects are
// built with). None is forwarded.
const forwardedPrefix = "x-forwarded-"

// forwardedName reports whether name is an X-Forwarded-* field or
// X-Real-Ip, in any case and with "_" for "-" (CGI, WSGI and PHP servers
// read X_Forwarded_For as X-Forwarded-For: both are HTTP_X_FORWARDED_FOR).
func forwardedName[T string | []byte](name T) bool {
	switch {
	case len(name) >= len(forwardedPrefix):
		return dashFold(name[:len(forwardedPrefix)], forwardedPrefix)
	case len(name) == len("x-real-ip"):
		return dashFold(name, "x-real-ip")
	}
	return false
}

// dashFold reports whether b is s (lower case), ASCII case folded and
// "_" taken for "-".
func dashFold[T string | []byte](b T, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(s) {
		c := lower(b[i])
		if c == '_' {
			c = '-'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// dropForwarded deletes every forwardedName field of h.
func dropForwarded(h http.Header) {
	for name := range h {
		if forwardedName(name) {
			delete(h, name)
		}
	}
}

// dropTrailers deletes from a request's trailers (req.Trailer) the fields
// never forwarded in its header (hop-by-hop, notForwarded, X-Forwarded-*,
// Gatehouse's cookies: every cookie, here) and those a trailer must not
// carry (RFC 9110 section 6.5.1: framing, routing, authentication), the
// credential's own header (injected) among them: a caller's trailer is no
// way to send the upstream Gatehouse's bearer token, or a value of the
// header that holds the credential's token. The map is emptied to nil.
func dropTrailers(req *http.Request, injected string) {
	t := req.Trailer
	for _, names := range [][]string{hopHeaders, notForwarded, trailerNever} {
		for _, name := range names {
			delete(t, name)
		}
	}
	delete(t, injected)
	dropForwarded(t)
	if len(t) == 0 {
		req.Trailer = nil
	}
}

// trailerNever are fields a request's trailers never pass on besides the
// header's rules (dropTrailers).
var trailerNever = []string{"Host", "Content-Length", "Content-Type", "Content-Encoding", "Content-Range", "Cookie",
	"Expect", "Max-Forwards", "Cache-Control"}

// forwards reports whether the call's request is one forward sends: one
// h1Transport takes.
func (p *Proxy) forwards(in *http.Request, cl *call) bool {
	if p.h1 == nil || cl.target.Scheme != "http" || cl.streamed {
		return false
	}
	if _, up := in.Header["Upgrade"]; up {
		return false
	}
	return in.ContentLength == 0 || (cl.replay != nil && int64(len(cl.replay)) <= h1MaxBody)
}

// removeHopByHop deletes the hop-by-hop headers of h, those its
// Connection header names included.
func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, name := range hopHeaders {
		delete(h, name)
	}
}

// outboundHeader is the header sent upstream for in's: in's without the
// hop-by-hop headers and notForwarded (the values are shared with in's,
// never changed in place: every header set later is a new slice).
func outboundHeader(in http.Header) http.Header {
	h := make(http.Header, len(in)+1)
	for name, values := range in {
		if !forwardedName(name) {
			h[name] = values
		}
	}
	removeHopByHop(h)
	for _, name := range notForwarded {
		delete(h, name)
	}
	// Tell the upstream that trailers are supported when the client said
	// so (the reverse proxy's rule, issue 21096).
	if httpguts.HeaderValuesContainsToken(in["Te"], "trailers") {
		h["Te"] = []string{"trailers"}
	}
	// No User-Agent of Go's own when the client sent none.
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{""}
	}
	return h
}

var errSwitched = errors.New("proxy: the upstream switched protocols, which the proxy does not pass on")

// forward sends in upstream as a shallow copy of in (in's header is not
// changed: the copy gets a header of its own), and copies the answer to
// w, as the reverse proxy would.
func (p *Proxy) forward(w http.ResponseWriter, in *http.Request, cl *call) {
	out := in.WithContext(in.Context())
	out.Header = outboundHeader(in.Header)
	out.Close = false
	if in.ContentLength == 0 {
		out.Body = nil
	}
	p.prepare(in, out, cl)
	resp, err := p.transport.roundTrip(out, cl)
	if err != nil {
		cl.failed(err)
		return
	}
	p.relay(w, in, resp, cl)
}

// relay copies the upstream's answer resp to w, as the reverse proxy
// would (in is the proxied request).
func (p *Proxy) relay(w http.ResponseWriter, in *http.Request, resp *http.Response, cl *call) {
	if resp.StatusCode == http.StatusSwitchingProtocols {
		_ = resp.Body.Close()
		cl.failed(errSwitched)
		return
	}
	removeHopByHop(resp.Header)
	if err := p.bound(resp, cl); err != nil {
		_ = resp.Body.Close()
		cl.failed(err)
		return
	}
	dst := w.Header()
	for name, values := range resp.Header {
		// The answer's slices are taken as they are where w has none of
		// the name (the answer is not used after; a header set later is a
		// new slice, and ReadResponse's slices are full, so an Add copies).
		if had, ok := dst[name]; ok {
			dst[name] = append(had, values...)
		} else {
			dst[name] = values
		}
	}
	announced := len(resp.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range resp.Trailer {
			keys = append(keys, k)
		}
		dst.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(resp.StatusCode)
	// Answers of unknown length and event streams are flushed at once
	// and after every write; the others as the server's buffer fills.
	var flush func() error
	if resp.ContentLength == -1 || isEventStream(resp.Header.Get("Content-Type")) {
		flush = http.NewResponseController(w).Flush
		_ = flush()
	}
	if err := p.copyBody(w, resp.Body, flush); err != nil {
		_ = resp.Body.Close()
		// The answer has begun: all that can be done is to abort it (the
		// reverse proxy's ErrAbortHandler, issue 23643), so the client
		// sees a cut answer, not a complete-looking one.
		if in.Context().Value(http.ServerContextKey) != nil {
			panic(http.ErrAbortHandler)
		}
		return
	}
	_ = resp.Body.Close() // now: it fills resp.Trailer
	if len(resp.Trailer) > 0 {
		// Chunked, so that the trailers can follow.
		_ = http.NewResponseController(w).Flush()
	}
	if len(resp.Trailer) == announced {
		for name, values := range resp.Trailer {
			dst[name] = append(dst[name], values...)
		}
		return
	}
	for name, values := range resp.Trailer {
		for _, v := range values {
			dst.Add(http.TrailerPrefix+name, v)
		}
	}
}

// isEventStream reports whether the media type of Content-Type ct is
// text/event-stream.
func isEventStream(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/event-stream")
}

// copyBody copies the answer's body to w through a pooled buffer,
// flushing after every write when flush is set; it returns a read error
// (but io.EOF) or a write error.
func (p *Proxy) copyBody(w io.Writer, body io.Reader, flush func() error) error {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			if werr != nil {
				return werr
			}
			if m != n {
				return io.ErrShortWrite
			}
			if flush != nil {
				_ = flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			p.cfg.Logger.Debug("proxy: read error during the answer's copy", "err", rerr)
			return rerr
		}
	}
}

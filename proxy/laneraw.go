package proxy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/gatehouse/gatehouse/httpapi"
)

// The lane's own forwarding ("raw"): the plainest proxied requests, which
// are most of them, are read, forwarded and answered as bytes, without
// an http.Request, header maps or an http.Response: the head is parsed
// in place (rawHead), the call decided as for any request (Proxy.decide),
// the request written to an http:// upstream over h1Transport's
// connections with its fields as they came (but those never forwarded),
// and the upstream's answer relayed with its fields as they come (but
// those never passed on), when it is plain too. What is not plain takes
// the general way at the first point where it shows:
//
//   - a request head that is not (rawHead.parse: escapes in the path, a
//     cookie, a transfer coding, Expect, Upgrade, TE, Connection other
//     than keep-alive, an obsolete line folding, …) is read by
//     http.ReadRequest and served by Proxy.handle (the lane's request);
//   - a call to an upstream other than http:// is made by
//     Proxy.exchange, with the request built from the raw head;
//   - an answer head that is not (rawAnswer: not HTTP/1.1, a 1xx, 204 or
//     304, no Content-Length, a transfer coding, trailers, no
//     Content-Type for a body, a field Connection names, …) is read by
//     http.ReadResponse and relayed by Proxy.relay.
//
// Every rule of the general way holds here too: the same headers are not
// forwarded and not passed back, the credential's token is injected the
// same way, an upstream 401 causes one refresh and one retry, a kept
// connection the upstream closed is retried once for a request that may
// be, the answer is bounded, use is counted. server/TestHTTPProxyLane
// compares the two ways' answers and upstream requests.

// rawField is one header field of a head, as sent (slices of the head).
type rawField struct{ name, value []byte }

// rawHead is a proxied request's head the lane parsed itself.
type rawHead struct {
	method      string // one of Methods (the constant)
	target      string // path and query, as sent
	path, query string // of target
	ref         string // the credential named
	host        []byte
	authz       string
	requestID   []byte
	userAgent   []byte
	hasUA       bool
	length      int64
	fields      []rawField // forwarded as they are
	// noCache says the first Pragma is "no-cache" and there is no
	// Cache-Control: "Cache-Control: no-cache" is sent too, as
	// http.ReadRequest adds it (RFC 9111 section 5.4) for the general
	// way (review h2).
	noCache bool
}

// pathByte are the bytes of a path that net/url's EscapedPath leaves as
// they are (RFC 3986 pchar and "/", without pct-encoded).
var pathByte = func() (t [256]bool) {
	for _, b := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/[]") {
		t[b] = true
	}
	return t
}()

// maxRawFields bounds the fields of a raw head (more: the general way).
const maxRawFields = 64

// parse reads head (the lane's copy: the fields are slices of it) into h;
// false when the head is not one the raw way takes.
func (h *rawHead) parse(head []byte) bool {
	line, rest, ok := cutLine(head)
	if !ok {
		return false
	}
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return false
	}
	h.method = methodOf(line[:sp])
	line = line[sp+1:]
	sp = bytes.IndexByte(line, ' ')
	if h.method == "" || sp <= 0 || string(line[sp+1:]) != "HTTP/1.1" {
		return false
	}
	target := line[:sp]
	if !bytes.HasPrefix(target, []byte(PathPrefix)) {
		return false
	}
	q := bytes.IndexByte(target, '?')
	if q < 0 {
		q = len(target)
	}
	// The path: characters a URL's path keeps as they are (no escape:
	// escapes are echo's to match, and the target's to encode); the
	// query: visible ASCII but '#'.
	for _, b := range target[:q] {
		if !pathByte[b] {
			return false
		}
	}
	for _, b := range target[q:] {
		if b <= ' ' || b >= 0x7f || b == '#' {
			return false
		}
	}
	h.target = string(target)
	h.path, h.query, _ = strings.Cut(h.target, "?")
	var found bool
	h.ref, _, found = strings.Cut(h.path[len(PathPrefix):], "/")
	if !found || h.ref == "" {
		return false
	}
	h.host, h.authz, h.requestID, h.userAgent, h.hasUA, h.length = nil, "", nil, nil, false, 0
	h.fields = h.fields[:0]
	hosts, lengths, authzs := 0, 0, 0
	pragma, cacheControl := false, false
	rest, ok = eachField(rest, func(name, value []byte) bool {
		switch kind := kindOf(name); kind {
		case fieldHost:
			hosts++
			h.host = value
		case fieldContentLength:
			lengths++
			n, ok := digits(value)
			if !ok || n > h1MaxBody {
				return false
			}
			h.length = n
		case fieldAuthorization:
			authzs++
			h.authz = string(value)
		case fieldRequestID:
			if h.requestID == nil {
				h.requestID = value
			}
		case fieldUserAgent:
			if !h.hasUA {
				h.userAgent, h.hasUA = value, true
			}
		case fieldConnection:
			if !equalFold(value, "keep-alive") {
				return false
			}
		case fieldTransferEncoding, fieldTrailer, fieldTe, fieldUpgrade, fieldExpect, fieldCookie:
			return false
		case fieldHop, fieldNotForwarded:
		default:
			if len(h.fields) == maxRawFields {
				return false
			}
			h.fields = append(h.fields, rawField{name, value})
			switch kind {
			case fieldPragma:
				if !pragma {
					pragma, h.noCache = true, string(value) == "no-cache"
				}
			case fieldCacheControl:
				cacheControl = true
			}
		}
		return true
	})
	h.noCache = h.noCache && !cacheControl
	return ok && hosts == 1 && lengths <= 1 && authzs <= 1 && len(rest) == 0 && httpguts.ValidHostHeader(string(h.host))
}

// fieldKind is what the raw way makes of a header field, by its name.
type fieldKind uint8

const (
	fieldOther fieldKind = iota
	fieldHost
	fieldContentLength
	fieldAuthorization
	fieldRequestID
	fieldUserAgent
	fieldConnection
	fieldTransferEncoding
	fieldTrailer
	fieldTe
	fieldUpgrade
	fieldExpect
	fieldCookie
	fieldContentType
	fieldDate
	fieldPragma
	fieldCacheControl
	// fieldHop is another of hopHeaders; fieldNotForwarded another of
	// notForwarded (never sent upstream); fieldNotOurs one of the answer
	// fields never passed back (stripAnswerHeaders).
	fieldHop
	fieldNotForwarded
	fieldNotOurs
)

// fieldKinds are the names kindOf knows, by length; the first of a
// name's entries is its kind (the names of hopHeaders and notForwarded
// that the raw way treats apart come before those lists).
var fieldKinds = func() (m [32][]struct {
	name string
	kind fieldKind
}) {
	add := func(kind fieldKind, names ...string) {
		for _, n := range names {
			m[len(n)] = append(m[len(n)], struct {
				name string
				kind fieldKind
			}{n, kind})
		}
	}
	add(fieldHost, "Host")
	add(fieldContentLength, "Content-Length")
	add(fieldAuthorization, "Authorization")
	add(fieldRequestID, "X-Request-Id")
	add(fieldUserAgent, "User-Agent")
	add(fieldConnection, "Connection")
	add(fieldTransferEncoding, "Transfer-Encoding")
	add(fieldTrailer, "Trailer")
	add(fieldTe, "Te")
	add(fieldUpgrade, "Upgrade")
	add(fieldExpect, "Expect")
	add(fieldCookie, "Cookie")
	add(fieldContentType, "Content-Type")
	add(fieldDate, "Date")
	add(fieldPragma, "Pragma")
	add(fieldCacheControl, "Cache-Control")
	add(fieldHop, hopHeaders...)
	add(fieldNotForwarded, notForwarded...)
	add(fieldNotOurs, notOurOrigin...)
	add(fieldNotOurs, "Content-Security-Policy", "X-Content-Type-Options")
	return m
}()

// kindOf is the kind of a field named name (ASCII case folded).
func kindOf(name []byte) fieldKind {
	if len(name) < len(fieldKinds) {
		for _, k := range fieldKinds[len(name)] {
			if equalFold(name, k.name) {
				return k.kind
			}
		}
	}
	if len(name) > 15 && equalFold(name[:15], "Access-Control-") {
		return fieldNotOurs
	}
	if forwardedName(name) {
		return fieldNotForwarded // another X-Forwarded-*, or one with "_"
	}
	return fieldOther
}

// eachField calls f with each header field of a head's rest (the lines
// after its first), until the empty line that ends it, and returns what
// follows that line; false when a line is not a field (field) or f
// returns false.
func eachField(rest []byte, f func(name, value []byte) bool) ([]byte, bool) {
	for {
		line, after, ok := cutLine(rest)
		if !ok {
			return nil, false
		}
		rest = after
		if len(line) == 0 {
			return rest, true
		}
		name, value, ok := field(line)
		if !ok || !f(name, value) {
			return nil, false
		}
	}
}

// cutLine cuts the first line of b (CRLF or a bare LF ends it; a CR
// elsewhere is refused).
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, nil, false
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, nil, false
	}
	return line, rest, true
}

// field splits a header line: a token, a colon, a value of field
// characters (net/http's rules) without its surrounding white space. A
// line starting with white space (obsolete folding) is refused.
func field(line []byte) (name, value []byte, ok bool) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return nil, nil, false
	}
	name = line[:colon]
	for _, b := range name {
		if !httpguts.IsTokenRune(rune(b)) {
			return nil, nil, false
		}
	}
	value = bytes.Trim(line[colon+1:], " \t")
	if !fieldValue(value) {
		return nil, nil, false
	}
	return name, value, true
}

// fieldValue reports whether v holds no control character but HTAB
// (httpguts.ValidHeaderFieldValue's rule), eight bytes at a time where
// none of them is below 0x20 or 0x7f (a bearer token's 1 KiB, at every
// request).
func fieldValue(v []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(v) >= 8 {
		x := binary.LittleEndian.Uint64(v)
		// A byte below 0x20, or equal to 0x7f (bytes from 0x80 never
		// match: their high bit is masked by ^x).
		below := (x - 0x20*ones) &^ x & highs
		del := ((x ^ 0x7f*ones) - ones) &^ (x ^ 0x7f*ones) & highs
		if below|del != 0 {
			break
		}
		v = v[8:]
	}
	for _, b := range v {
		if b < ' ' && b != '\t' || b == 0x7f {
			return false
		}
	}
	return true
}

// equalFold reports whether b is s, ASCII case folded.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// digits is a decimal length (digits only, at most 18 of them).
func digits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func methodOf(b []byte) string {
	for _, m := range Methods {
		if string(b) == m {
			return m
		}
	}
	return ""
}

// request is the http.Request of a raw head (for the general way).
func (h *rawHead) request(lc *laneConn, body []byte) *http.Request {
	hdr := make(http.Header, len(h.fields)+2)
	for _, f := range h.fields {
		k := http.CanonicalHeaderKey(string(f.name))
		hdr[k] = append(hdr[k], string(f.value))
	}
	if h.hasUA {
		hdr["User-Agent"] = []string{string(h.userAgent)}
	}
	if h.noCache {
		hdr["Cache-Control"] = []string{"no-cache"}
	}
	req := &http.Request{Method: h.method, URL: &url.URL{}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: hdr, Host: string(h.host), RemoteAddr: lc.remote, RequestURI: h.target, ContentLength: int64(len(body))}
	req.URL.Path, req.URL.RawQuery = h.path, h.query
	req.Body = http.NoBody
	if len(body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	return req.WithContext(lc.ctx)
}

// serveRaw answers the raw head h (its body read into body), as serve
// answers a request; it reports whether the connection may serve another
// request.
func (lc *laneConn) serveRaw(h *rawHead, body []byte, start time.Time) (keep bool) {
	l, p := lc.l, lc.l.p
	l.rawWay.Inc()
	w := &lc.answer
	w.reset(h.method)
	requestID := httpapi.NewRequestID(string(h.requestID))
	w.requestID = requestID
	l.clients.start(lc)
	defer func() {
		l.clients.stop(lc)
		if v := recover(); v != nil {
			keep = lc.panicked(v, w, requestID, func() *http.Request { return h.request(lc, nil) })
		}
		l.observe(httpapi.Observed{Method: h.method, Path: h.path, Remote: lc.remote, RequestID: requestID,
			Status: w.status, Size: w.written, Elapsed: time.Since(start)})
	}()
	cl, err := p.decide(lc.ctx, proxied{authorization: h.authz, remote: lc.remote, ref: h.ref, path: h.path, query: h.query, length: h.length})
	if err == nil {
		cl.in.Store(int64(len(body)))
		cl.deadline = time.Now().Add(p.cfg.Timeout)
		replayable := int64(len(body)) <= p.cfg.RetryBody
		if cl.base.u.Scheme == "http" && p.h1 != nil && !strings.Contains(cl.base.path, "%") && cl.base.hostOK && replayable {
			lc.forwardRaw(h, body, cl)
			p.cfg.Usage.count(cl.cred.Tenant, cl.cred.ID, cl.appID, w.status, cl)
			if cl.err != nil && !w.headWritten {
				err = p.problemOf(cl.err)
			}
		} else {
			// Not h1Transport's, or a body longer than RetryBody (which
			// streams, its 401 not retried): the general way, from here.
			// exchange copies a body it may replay; one that streams is
			// read by the transport's writer, which may outlive the answer
			// (the lane's buffer holds the next request's body by then):
			// it gets a copy of its own (review h2).
			if !replayable {
				body = bytes.Clone(body)
			}
			err = p.exchange(w, h.request(lc, body), cl)
		}
	}
	if err != nil {
		if w.headWritten {
			return false
		}
		httpapi.WriteProblem(w, (&http.Request{Method: h.method}).WithContext(lc.ctx), l.log, Route, requestID, err)
	}
	if l.closing.Load() {
		w.close = true
	}
	if err := w.finish(); err != nil {
		return false
	}
	return !w.close
}

// forwardRaw makes the call cl for h (its body body) through
// h1Transport's connections, and answers on the lane's writer; an error
// before the answer has begun is left in cl.err.
func (lc *laneConn) forwardRaw(h *rawHead, body []byte, cl *call) {
	p := lc.l.p
	t := p.h1
	addr := cl.base.addr
	injName, injValue := injected(cl.cred.HeaderTemplate, cl.token)
	if !httpguts.ValidHeaderFieldValue(injValue) {
		cl.failed(fmt.Errorf("proxy: invalid header field value for %q", injName))
		return
	}
	idempotent := mayResend(h.method, h.hasField("Idempotency-Key") || h.hasField("X-Idempotency-Key"))
	idleRetried := false
	for {
		c, reused, err := t.get(lc.ctx, addr, cl.deadline)
		if err != nil {
			cl.failed(err)
			return
		}
		t.watch.start(c, lc.ctx, cl.deadline)
		a, err := lc.sendRaw(c, h, body, cl, injName, injValue)
		if err != nil {
			if t.resend(addr, c, reused, idleRetried, idempotent, err) {
				idleRetried = true
				continue
			}
			cl.failed(err)
			return
		}
		if a.status == http.StatusUnauthorized && p.retries401(cl) {
			a.drop(t, addr, c)
			cl.retried = true
			tok, ver, err := refreshed(lc.ctx, p.cfg.Vault, &p.flights, cl.cred, cl.version)
			if err != nil {
				cl.failed(err)
				return
			}
			cl.token, cl.version = tok, ver
			p.cfg.Usage.refreshed(cl.cred.Tenant, cl.cred.ID, cl.appID)
			injName, injValue = injected(cl.cred.HeaderTemplate, tok)
			idleRetried = true // the retry is not retried again
			continue
		}
		if a.status == http.StatusUnauthorized && cl.retried {
			p.markDeaf(cl.cred.ID, time.Now())
		}
		if a.resp != nil {
			// Not plain: relayed the general way (relay bounds it).
			p.relay(&lc.answer, (&http.Request{Method: h.method}).WithContext(lc.ctx), a.resp, cl)
			return
		}
		lc.relayRaw(t, addr, c, a, cl)
		return
	}
}

func (h *rawHead) hasField(name string) bool {
	for _, f := range h.fields {
		if equalFold(f.name, name) {
			return true
		}
	}
	return false
}

// sendRaw writes h's request on c (what writeRequest writes for the
// request the general way sends) and reads the answer's head.
func (lc *laneConn) sendRaw(c *h1Conn, h *rawHead, body []byte, cl *call, injName, injValue string) (rawAnswer, error) {
	t := lc.l.p.h1
	fail := func(err error) (rawAnswer, error) { return rawAnswer{}, t.failed(c, err) }
	bw := c.bw
	// The target's path and query (what the general way's URL escapes
	// to: base_url's path, which holds no escape here, "/", the rest as
	// sent, which holds none either).
	host := cl.base.host
	bw.WriteString(h.method)
	bw.WriteByte(' ')
	bw.WriteString(cl.base.path)
	bw.WriteByte('/')
	bw.WriteString(cl.rest)
	if cl.query != "" || cl.base.u.ForceQuery {
		bw.WriteByte('?')
		bw.WriteString(cl.query)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	// The client's User-Agent, unless the credential's header is that
	// (inject's Set replaces it).
	if h.hasUA && len(h.userAgent) > 0 && injName != "User-Agent" {
		bw.WriteString("User-Agent: ")
		bw.Write(h.userAgent)
		bw.WriteString("\r\n")
	}
	switch {
	case len(body) > 0:
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(len(body)), 10))
		bw.WriteString("\r\n")
	case h.method == http.MethodPost || h.method == http.MethodPut || h.method == http.MethodPatch:
		bw.WriteString("Content-Length: 0\r\n")
	}
	for _, f := range h.fields {
		if equalFold(f.name, injName) {
			continue
		}
		bw.Write(f.name)
		bw.WriteString(": ")
		bw.Write(f.value)
		bw.WriteString("\r\n")
	}
	if h.noCache && injName != "Cache-Control" {
		bw.WriteString("Cache-Control: no-cache\r\n")
	}
	bw.WriteString(injName)
	bw.WriteString(": ")
	bw.WriteString(injValue)
	bw.WriteString("\r\n\r\n")
	bw.Write(body)
	if err := bw.Flush(); err != nil {
		return fail(errors.Join(errIdleClosed, err))
	}
	c.limit.left = h1MaxHeader
	a, err := lc.readAnswer(c, cl.base.addr, h.method)
	c.limit.left = -1
	if err != nil {
		return fail(err)
	}
	return a, nil
}

// rawAnswer is an upstream answer's head: plain (read in place: its
// fields are slices of the connection's buffer, valid until it is read
// on), or resp (read by http.ReadResponse, its body on the connection).
type rawAnswer struct {
	status  int
	head    int   // the head's length in the buffer
	length  int64 // Content-Length
	close   bool  // Connection: close
	hasDate bool
	fields  []rawField
	resp    *http.Response
}

// readAnswer reads the answer's head on c: in place when it is plain,
// by http.ReadResponse otherwise (nothing is read from c before that
// choice).
func (lc *laneConn) readAnswer(c *h1Conn, addr, method string) (rawAnswer, error) {
	if err := firstByte(c); err != nil {
		return rawAnswer{}, err
	}
	from := 0
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		if end := headEnd(buf, from); end > 0 {
			a := rawAnswer{fields: lc.answerFields[:0]}
			if a.parse(buf[:end]) {
				lc.answerFields = a.fields
				return a, nil
			}
			break
		}
		if len(buf) >= c.br.Size() {
			break
		}
		from = len(buf)
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			break // ReadResponse says what it is
		}
	}
	t := lc.l.p.h1
	resp, err := t.readHead(c, &http.Request{Method: method})
	if err != nil {
		return rawAnswer{}, err
	}
	// As exchange's: the body's end gives the connection back.
	resp.Body = &h1Body{rc: resp.Body, t: t, c: c, addr: addr, keep: !resp.Close}
	return rawAnswer{status: resp.StatusCode, resp: resp}, nil
}

// parse reads a plain answer head into a; false when it is not one.
func (a *rawAnswer) parse(head []byte) bool {
	line, rest, ok := cutLine(head)
	// "HTTP/1.1 200 OK": the reason phrase is net/http's own on the way
	// out, as through Proxy.relay.
	if !ok || len(line) < 12 || string(line[:9]) != "HTTP/1.1 " || (len(line) > 12 && line[12] != ' ') {
		return false
	}
	code, ok := digits(line[9:12])
	if !ok || code < 200 || code > 599 || code == http.StatusNoContent || code == http.StatusNotModified {
		return false
	}
	a.status, a.head, a.length = int(code), len(head), -1
	hasType := false
	rest, ok = eachField(rest, func(name, value []byte) bool {
		kind := kindOf(name)
		switch kind {
		case fieldContentLength:
			n, ok := digits(value)
			if !ok || a.length >= 0 {
				return false
			}
			a.length = n
		case fieldConnection:
			switch {
			case equalFold(value, "close"):
				a.close = true
			case !equalFold(value, "keep-alive"):
				return false
			}
		case fieldTransferEncoding, fieldTrailer:
			return false
		case fieldTe, fieldUpgrade, fieldHop, fieldNotOurs:
			// Hop-by-hop, or not passed back.
		default:
			hasType = hasType || kind == fieldContentType
			a.hasDate = a.hasDate || kind == fieldDate
			if len(a.fields) == maxRawFields {
				return false
			}
			a.fields = append(a.fields, rawField{name, value})
		}
		return true
	})
	return ok && a.length >= 0 && (hasType || a.length == 0) && len(rest) == 0
}

// drop reads a plain answer's body away (a 401 to retry), keeping the
// connection when the body is small, or closes the answer resp.
func (a rawAnswer) drop(t *h1Transport, addr string, c *h1Conn) {
	if a.resp != nil {
		_, _ = io.CopyN(io.Discard, a.resp.Body, 64<<10)
		_ = a.resp.Body.Close()
		return
	}
	_, _ = c.br.Discard(a.head)
	keep := !a.close && a.length <= 64<<10
	if keep {
		if n, err := c.br.Discard(int(a.length)); err != nil || int64(n) != a.length {
			keep = false
		}
	}
	t.finish(addr, c, keep)
}

// relayRaw answers the plain answer a on the lane's writer: its head
// (the fields passed back, the proxy's own, a Date when it has none) and
// its body, copied.
func (lc *laneConn) relayRaw(t *h1Transport, addr string, c *h1Conn, a rawAnswer, cl *call) {
	p := lc.l.p
	if a.length > p.cfg.MaxResponseBody {
		t.finish(addr, c, false)
		cl.failed(fmt.Errorf("%w (%d bytes, the limit is %d)", errTooLarge, a.length, p.cfg.MaxResponseBody))
		return
	}
	w := &lc.answer
	w.status, w.wroteHeader, w.headWritten, w.length = a.status, true, true, a.length
	bw := w.bw
	w.statusLine(a.status)
	w.requestIDField()
	for _, f := range a.fields {
		bw.Write(f.name)
		bw.WriteString(": ")
		bw.Write(f.value)
		bw.WriteString("\r\n")
	}
	bw.WriteString("Content-Security-Policy: " + answerCSP + "\r\nX-Content-Type-Options: nosniff\r\n")
	if !a.hasDate {
		bw.WriteString("Date: ")
		bw.Write(time.Now().UTC().AppendFormat(bw.AvailableBuffer(), http.TimeFormat))
		bw.WriteString("\r\n")
	}
	bw.WriteString("Content-Length: ")
	bw.Write(strconv.AppendInt(bw.AvailableBuffer(), a.length, 10))
	bw.WriteString("\r\n")
	if w.close {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
	_, _ = c.br.Discard(a.head) // the fields are written: the buffer may move on
	n, err := copyBuffered(bw, c.br, a.length)
	w.written = n
	cl.out.Add(n)
	if err != nil {
		t.finish(addr, c, false)
		// The answer has begun: the client must see it cut, not whole.
		panic(http.ErrAbortHandler)
	}
	t.finish(addr, c, !a.close)
}

// copyBuffered copies n bytes of br to bw, each as soon as br has it
// (io.CopyN without its LimitReader).
func copyBuffered(bw *bufio.Writer, br *bufio.Reader, n int64) (int64, error) {
	var done int64
	for done < n {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return done, err
			}
		}
		b, _ := br.Peek(int(min(int64(br.Buffered()), n-done)))
		m, err := bw.Write(b)
		done += int64(m)
		_, _ = br.Discard(m)
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

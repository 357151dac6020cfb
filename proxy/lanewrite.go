package proxy

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// laneWriter is the lane's http.ResponseWriter: it writes an HTTP/1.1
// answer on the connection's buffered writer as net/http's server does
// for the answers the proxy gives (as of Go 1.26): a Date, the
// Content-Type sniffed from the first bytes when none is set, the
// declared Content-Length kept (a body that does not fill it closes the
// connection), chunked otherwise and whenever trailers are announced,
// with the trailers after the last chunk; informational answers (1xx)
// written at once; nothing written until the first Write, Flush or the
// end, so that an error can still be answered instead.
type laneWriter struct {
	bw     *bufio.Writer
	h      http.Header
	method string
	// requestID is the answer's X-Request-Id (the edge's, the lane's own).
	requestID string
	// status is the answer's (200 unless set); wroteHeader says it is
	// set, headWritten that the head is on the wire (in bw).
	status      int
	wroteHeader bool
	headWritten bool
	chunked     bool
	noBody      bool
	length      int64 // declared, -1: unknown
	written     int64
	// close ends the connection after the answer (Connection: close).
	close bool
	err   error
}

func (w *laneWriter) reset(method string) {
	clear(w.h)
	w.method, w.requestID = method, ""
	w.status, w.wroteHeader, w.headWritten, w.chunked, w.noBody = http.StatusOK, false, false, false, false
	w.length, w.written, w.close, w.err = -1, 0, false, nil
}

// discardHeader forgets what was set for an answer not yet begun.
func (w *laneWriter) discardHeader() {
	clear(w.h)
	w.status, w.wroteHeader = http.StatusOK, false
}

func (w *laneWriter) Header() http.Header { return w.h }

func (w *laneWriter) answered() (int, bool) { return w.status, w.headWritten }

func (w *laneWriter) WriteHeader(code int) {
	if w.wroteHeader || w.headWritten {
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.informational(code)
		return
	}
	w.status, w.wroteHeader = code, true
}

// informational writes a 1xx answer with the header set so far, at once
// (net/http's rule: the header then stays for the final answer), but its
// framing fields: a 1xx has no content (RFC 9110 section 8.6), and a
// Content-Length there (an upstream's 103 passed on) would have a client
// that believes it read the final answer's head as the 1xx's body
// (net/http's server leaves Content-Length and Transfer-Encoding out
// too; Connection, hop-by-hop, is never an upstream's here).
func (w *laneWriter) informational(code int) {
	w.statusLine(code)
	w.requestIDField()
	w.writeFields()
	w.bw.WriteString("\r\n")
	if err := w.bw.Flush(); err != nil && w.err == nil {
		w.err = err
	}
}

// requestIDField writes the X-Request-Id field.
func (w *laneWriter) requestIDField() {
	if w.requestID != "" {
		w.bw.WriteString("X-Request-Id: ")
		w.bw.WriteString(w.requestID)
		w.bw.WriteString("\r\n")
	}
}

func (w *laneWriter) statusLine(code int) {
	w.bw.WriteString("HTTP/1.1 ")
	w.bw.Write(strconv.AppendInt(w.bw.AvailableBuffer(), int64(code), 10))
	w.bw.WriteByte(' ')
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + strconv.Itoa(code)
	}
	w.bw.WriteString(text)
	w.bw.WriteString("\r\n")
}

// writeFields writes the header's fields (the trailers' placeholders
// and the framing fields, which the answer's writer sets, left out),
// net/http's way: names that are not tokens dropped, line breaks in
// values turned into spaces.
func (w *laneWriter) writeFields() {
	for name, values := range w.h {
		if strings.HasPrefix(name, http.TrailerPrefix) || !httpguts.ValidHeaderFieldName(name) {
			continue
		}
		if name == "Content-Length" || name == "Transfer-Encoding" || name == "Connection" {
			continue
		}
		for _, v := range values {
			w.field(name, v)
		}
	}
}

// writeHead puts the answer's head in bw; first is the body's first
// bytes (nil at the end or a flush), for Content-Type; ending says the
// handler is done (an unknown length is then the body written: none).
func (w *laneWriter) writeHead(first []byte, ending bool) {
	w.headWritten = true
	code := w.status
	w.noBody = code == http.StatusNoContent || code == http.StatusNotModified || w.method == http.MethodHead
	w.length = -1
	if cl := w.h.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.length = n
		}
	}
	_, trailers := w.h["Trailer"]
	switch {
	case w.noBody:
	case trailers:
		w.length, w.chunked = -1, true
	case w.length >= 0:
	case ending:
		w.length = 0
	default:
		w.chunked = true
	}
	if !w.noBody {
		_, haveType := w.h["Content-Type"]
		if !haveType && len(first) > 0 && w.h.Get("Content-Encoding") == "" {
			w.h.Set("Content-Type", http.DetectContentType(first))
		}
	}
	if _, ok := w.h["Date"]; !ok {
		w.h["Date"] = []string{time.Now().UTC().Format(http.TimeFormat)}
	}
	w.statusLine(code)
	w.requestIDField()
	w.writeFields()
	switch {
	case w.chunked:
		w.bw.WriteString("Transfer-Encoding: chunked\r\n")
	case w.noBody && (code != http.StatusNotModified || w.length < 0):
		// No length but a 304's (that of the representation).
	case w.length >= 0:
		w.bw.WriteString("Content-Length: ")
		w.bw.Write(strconv.AppendInt(w.bw.AvailableBuffer(), w.length, 10))
		w.bw.WriteString("\r\n")
	}
	if w.close {
		w.bw.WriteString("Connection: close\r\n")
	}
	w.bw.WriteString("\r\n")
}

func (w *laneWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if !w.headWritten {
		w.wroteHeader = true
		w.writeHead(p, false)
	}
	if w.noBody {
		return 0, http.ErrBodyNotAllowed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.chunked {
		w.bw.Write(strconv.AppendInt(w.bw.AvailableBuffer(), int64(len(p)), 16))
		w.bw.WriteString("\r\n")
	}
	n, err := w.bw.Write(p)
	if w.chunked && err == nil {
		_, err = w.bw.WriteString("\r\n")
	}
	if err != nil {
		w.err = err
	}
	return n, err
}

func (w *laneWriter) Flush() { _ = w.FlushError() }

func (w *laneWriter) FlushError() error {
	if w.err != nil {
		return w.err
	}
	if !w.headWritten {
		w.wroteHeader = true
		w.writeHead(nil, false)
	}
	if err := w.bw.Flush(); err != nil {
		w.err = err
	}
	return w.err
}

// finish ends the answer: the head if not written yet, the last chunk
// and the trailers, then bw flushed. A body shorter than declared closes
// the connection (close).
func (w *laneWriter) finish() error {
	if w.err != nil {
		return w.err
	}
	if !w.headWritten {
		w.writeHead(nil, true)
	}
	if w.length >= 0 && w.written < w.length && !w.noBody {
		w.close = true
	}
	if w.chunked {
		w.bw.WriteString("0\r\n")
		w.writeTrailers()
		w.bw.WriteString("\r\n")
	}
	if err := w.bw.Flush(); err != nil {
		w.err = err
	}
	return w.err
}

// writeTrailers writes the trailers announced in Trailer that the
// header holds now (but the names that may not be trailers, as net/http
// declares them), and those set with http.TrailerPrefix.
func (w *laneWriter) writeTrailers() {
	for _, list := range w.h["Trailer"] {
		for name := range strings.SplitSeq(list, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			if !httpguts.ValidHeaderFieldName(name) || !httpguts.ValidTrailerHeader(name) {
				continue
			}
			for _, v := range w.h[name] {
				w.field(name, v)
			}
		}
	}
	for name, values := range w.h {
		if k, ok := strings.CutPrefix(name, http.TrailerPrefix); ok && httpguts.ValidHeaderFieldName(k) {
			for _, v := range values {
				w.field(k, v)
			}
		}
	}
}

// field writes one header or trailer field, net/http's way: line breaks
// in the value turned into spaces, the value trimmed.
func (w *laneWriter) field(name, v string) {
	w.bw.WriteString(name)
	w.bw.WriteString(": ")
	if strings.ContainsAny(v, "\r\n") {
		v = newlineToSpace.Replace(v)
	}
	w.bw.WriteString(strings.TrimSpace(v))
	w.bw.WriteString("\r\n")
}

var newlineToSpace = strings.NewReplacer("\r", " ", "\n", " ")

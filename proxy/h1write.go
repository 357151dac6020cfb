package proxy

import (
	"bufio"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// writeRequest writes req on bw as req.Write does (as of Go 1.26),
// without its per-request cost (a sorter from a pool and a
// strings.Replacer pass over every header value, fmt for the request
// line, a transfer writer): the proxy's requests are the plain ones
// (no Trailer, no Transfer-Encoding, Close false, no body or one of
// known length, an ASCII host without a zone). Any other request is
// written by req.Write. The header's values must have passed validHeader
// (no CR or LF: Write's newline replacement would change nothing).
// TestWriteRequestLikeWrite compares the two byte for byte.
func writeRequest(bw *bufio.Writer, req *http.Request) error {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	noBody := req.Body == nil || req.Body == http.NoBody
	if !noBody {
		defer req.Body.Close() // as Write does, whatever happens
	}
	if req.Close || req.TransferEncoding != nil || req.Trailer != nil || req.URL.Opaque != "" ||
		req.Method == http.MethodConnect || (!noBody && req.ContentLength <= 0) || !plainHost(host) {
		return req.Write(bw)
	}
	path, query := req.URL.EscapedPath(), req.URL.RawQuery
	if path == "" {
		path = "/"
	}
	if hasCTL(path) || hasCTL(query) {
		return req.Write(bw) // refused there
	}
	if !httpguts.ValidHostHeader(host) {
		host = ""
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	bw.WriteString(method)
	bw.WriteByte(' ')
	bw.WriteString(path)
	if req.URL.ForceQuery || query != "" {
		bw.WriteByte('?')
		bw.WriteString(query)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	ua := "Go-http-client/1.1"
	if v, ok := req.Header["User-Agent"]; ok {
		ua = ""
		if len(v) > 0 {
			ua = textproto.TrimString(v[0])
		}
	}
	if ua != "" {
		bw.WriteString("User-Agent: ")
		bw.WriteString(ua)
		bw.WriteString("\r\n")
	}
	switch {
	case !noBody:
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), req.ContentLength, 10))
		bw.WriteString("\r\n")
	case method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch:
		// Write's rule: these methods say their empty length; the others
		// (DELETE too: its transfer encoding is not "identity") do not.
		bw.WriteString("Content-Length: 0\r\n")
	}
	var arr [32]string
	keys := arr[:0]
	for k := range req.Header {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		if httpguts.ValidHeaderFieldName(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range req.Header[k] {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(textproto.TrimString(v))
			bw.WriteString("\r\n")
		}
	}
	if _, err := bw.WriteString("\r\n"); err != nil {
		return err
	}
	if noBody {
		return nil
	}
	n, err := io.Copy(bw, io.LimitReader(req.Body, req.ContentLength))
	if err == nil && n != req.ContentLength {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// plainHost reports whether host is ASCII without an IPv6 zone (which
// Write would rewrite).
func plainHost(host string) bool {
	for i := 0; i < len(host); i++ {
		if c := host[i]; c >= 0x80 || c == '%' {
			return false
		}
	}
	return true
}

// hasCTL reports whether s holds an ASCII control character.
func hasCTL(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0
}

package proxy

import (
	"bufio"
	"net"
	"net/http"
	"net/textproto"
	"testing"
)

// Reconfigure sets what the tests of the lane through a whole server
// change of the lane's proxy before its first proxied request: the
// largest replayable body (RetryBody; 0 keeps it) and the outbound
// transport (nil keeps it), as New would have set them.
func Reconfigure(l *Lane, retryBody int64, transport http.RoundTripper) {
	p := l.p
	if retryBody > 0 {
		p.cfg.RetryBody = retryBody
	}
	if transport != nil {
		p.cfg.Transport = transport
		p.h1 = newH1Transport(transport)
		p.transport.base = transport
		if p.h1 != nil {
			p.transport.base = p.h1
		}
	}
}

// RawUpstream is rawUpstream's URL, for the tests outside the package.
func RawUpstream(tb testing.TB, fn func(net.Conn, *bufio.Reader)) string {
	u, _ := rawUpstream(tb, fn)
	return u
}

// HeadFields is headFields, for the tests outside the package.
func HeadFields(tp *textproto.Reader) ([]string, error) { return headFields(tp) }

package webhooks

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"code.dny.dev/ssrf"

	"github.com/gatehouse/gatehouse/events"
)

// Outbound is one delivery attempt to make (API.md "Webhooks", Delivery).
type Outbound struct {
	URL       string
	ID        string    // webhook-id: the delivery id, stable across retries
	Timestamp time.Time // webhook-timestamp: this attempt's time
	Body      []byte    // {"type", "timestamp", "data"}
	Secrets   [][]byte  // raw HMAC keys of every live secret
}

// SendResult is what one attempt gave. Error and ResponseBody are meant
// for the webhook's owner: they name what went wrong without internals.
type SendResult struct {
	At           time.Time     // when the attempt started
	StatusCode   int           // 0 when no answer came
	Duration     time.Duration // until the answer's kept body was read
	ErrorClass   string        // "" on a 2xx; else one of the Class constants
	Error        string
	ResponseBody string        // the answer's first 4 KiB, valid UTF-8
	RetryAfter   time.Duration // the answer's Retry-After (non-2xx only; 0: none)
	Gone         bool          // the endpoint answered 410 Gone
}

// Sender makes one attempt.
type Sender func(ctx context.Context, o Outbound) SendResult

// Error classes of a SendResult.
const (
	ClassHTTPStatus        = "http_status"           // an answer other than 2xx, 3xx included
	ClassTimeout           = "timeout"               // no (whole) answer within the client's timeouts
	ClassConnectionRefused = "connection_refused"    // nothing listens at the port
	ClassDNS               = "dns"                   // the host name does not resolve
	ClassSSRFRefused       = "ssrf_refused"          // the host resolves to an address deliveries may not reach
	ClassTLS               = "tls"                   // the TLS handshake or the certificate failed
	ClassNetwork           = "network"               // any other failure to exchange the request
	ClassCanceled          = "canceled"              // the caller's context ended (shutdown)
	ClassInvalidURL        = "invalid_url"           // the URL cannot be requested
	ClassNoSecret          = events.DeliveryNoSecret // no live secret to sign with: nothing was sent
)

// Limits of what an attempt reads of an answer.
const (
	// KeepBody is how much of an answer's body a SendResult keeps.
	KeepBody = 4 << 10
	// discardBody is how much more is read (and dropped) so the connection
	// can be reused; an answer longer than that closes the connection.
	discardBody = 64 << 10
)

// userAgent identifies deliveries.
const userAgent = "Gatehouse-Webhooks/1"

// NewSender returns the Sender of deliveries over client (see Deliver).
func NewSender(client *http.Client) Sender {
	return func(ctx context.Context, o Outbound) SendResult { return Deliver(ctx, client, o) }
}

// Deliver makes one attempt: a POST of o.Body to o.URL with the Standard
// Webhooks headers (Headers) signed with every key of o.Secrets and the
// User-Agent "Gatehouse-Webhooks/1". A 2xx is success; anything else
// (3xx included: client must not follow redirects, as NewClient's does)
// fails with ClassHTTPStatus, and an exchange that gets no answer fails
// with the class of its cause. Without a secret nothing is sent
// (ClassNoSecret). Deliver never returns more than KeepBody of the body,
// and reads at most 64 KiB past it.
func Deliver(ctx context.Context, client *http.Client, o Outbound) SendResult {
	r := SendResult{At: time.Now()}
	if len(o.Secrets) == 0 {
		r.ErrorClass, r.Error = ClassNoSecret, "the webhook has no live secret to sign with"
		return r
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(o.Body))
	if err != nil {
		r.ErrorClass, r.Error = ClassInvalidURL, "the webhook URL cannot be requested"
		return r
	}
	req.Header = Headers(o.ID, o.Timestamp, o.Body, o.Secrets...)
	req.Header.Set("User-Agent", userAgent)
	res, err := client.Do(req)
	if err != nil {
		r.Duration = time.Since(r.At)
		r.ErrorClass, r.Error = classify(err)
		return r
	}
	defer res.Body.Close()
	kept, _ := io.ReadAll(io.LimitReader(res.Body, KeepBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, discardBody))
	r.Duration = time.Since(r.At)
	r.StatusCode, r.ResponseBody = res.StatusCode, text(kept, len(kept) == KeepBody)
	if res.StatusCode < 200 || res.StatusCode > 299 {
		r.ErrorClass, r.Error = ClassHTTPStatus, "the endpoint answered "+status(res.StatusCode)
		r.RetryAfter = RetryAfter(res.Header.Get("Retry-After"), time.Now())
		r.Gone = res.StatusCode == http.StatusGone
	}
	return r
}

// status names a status code in words of ours, not the endpoint's.
func status(code int) string {
	if t := http.StatusText(code); t != "" {
		return strconv.Itoa(code) + " " + t
	}
	return strconv.Itoa(code)
}

// text makes b valid UTF-8 of at most KeepBody bytes: a rune that the cut
// at KeepBody split (truncated) is dropped, other invalid bytes become
// U+FFFD.
func text(b []byte, truncated bool) string {
	if truncated {
		for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					b = b[:i]
				}
				break
			}
		}
	}
	s := strings.ToValidUTF8(string(b), string(utf8.RuneError))
	if len(s) > KeepBody { // replacements are longer than the bytes they replace
		i := KeepBody
		for !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	return s
}

// classify names what went wrong with an exchange that got no answer, in
// words safe to show the webhook's owner.
func classify(err error) (class, msg string) {
	var dns *net.DNSError
	var ne net.Error
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var alert tls.AlertError
	var record tls.RecordHeaderError
	switch {
	case errors.Is(err, context.Canceled):
		return ClassCanceled, "the attempt was interrupted before an answer came"
	case errors.Is(err, ssrf.ErrProhibitedIP), errors.Is(err, ssrf.ErrProhibitedPort), errors.Is(err, ssrf.ErrProhibitedNetwork):
		return ClassSSRFRefused, "the URL resolves to an address deliveries may not reach (loopback, private, link-local or reserved)"
	case errors.As(err, &dns):
		return ClassDNS, "the host name does not resolve"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ClassTimeout, "no answer within the delivery timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassConnectionRefused, "the endpoint refused the connection"
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return ClassTLS, "the endpoint answered plain HTTP to an https URL"
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostErr),
		errors.As(err, &alert), errors.As(err, &record), strings.Contains(err.Error(), "tls: "):
		return ClassTLS, "the TLS handshake failed (is the certificate valid for the host?)"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ClassNetwork, "the endpoint closed the connection without an answer"
	}
	return ClassNetwork, "the connection failed"
}

// RetryAfter reads a Retry-After header (RFC 9110 section 10.2.3): delay
// seconds or an HTTP date, capped at MaxRetryAfter; 0 when absent,
// malformed or past. The vault reads its providers' with it too.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseUint(v, 10, 64); err == nil {
		return time.Duration(min(s, uint64(MaxRetryAfter/time.Second))) * time.Second
	} else if errors.Is(err, strconv.ErrRange) {
		return MaxRetryAfter
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxRetryAfter)
	}
	return 0
}

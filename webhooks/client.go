package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"code.dny.dev/ssrf"
)

// Standard Webhooks 1.0 signing (https://www.standardwebhooks.com).

const secretPrefix = "whsec_"

// NewSecret returns a new signing secret as the consumer sees it
// ("whsec_" and the base64 of 32 random bytes) and its raw HMAC key.
func NewSecret() (string, []byte) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return secretPrefix + base64.StdEncoding.EncodeToString(key), key
}

// ParseSecret returns the raw key of a "whsec_…" secret.
func ParseSecret(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, secretPrefix))
	if err != nil || !strings.HasPrefix(s, secretPrefix) || len(key) < 24 || len(key) > 64 {
		return nil, errors.New("webhooks: a secret is whsec_ and the base64 of 24 to 64 bytes")
	}
	return key, nil
}

// Sign returns the webhook-signature header of a delivery: one
// "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" per key, separated by
// spaces.
func Sign(id string, ts time.Time, body []byte, keys ...[]byte) string {
	var b strings.Builder
	msg := make([]byte, 0, len(id)+len(body)+24)
	msg = append(msg, id...)
	msg = append(msg, '.')
	msg = strconv.AppendInt(msg, ts.Unix(), 10)
	msg = append(msg, '.')
	msg = append(msg, body...)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		m := hmac.New(sha256.New, k)
		m.Write(msg)
		b.WriteString("v1,")
		b.WriteString(base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	return b.String()
}

// ClientConfig shapes the outbound HTTP client of deliveries.
type ClientConfig struct {
	// AllowPrivate lets deliveries reach loopback, private, link-local and
	// other special-purpose addresses (GATEHOUSE_WEBHOOK_ALLOW_PRIVATE).
	AllowPrivate bool
	// ConnectTimeout bounds the TCP (and TLS) connection (default 5s).
	ConnectTimeout time.Duration
	// Timeout bounds a whole attempt, the answer's body included (default
	// 15s).
	Timeout time.Duration
}

func (c ClientConfig) withDefaults() ClientConfig {
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 5 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 15 * time.Second
	}
	return c
}

// guardian refuses special-purpose addresses on any port.
var guardian = ssrf.New(ssrf.WithAnyPort())

// NewClient returns the client deliveries use: every connection's address
// is checked after DNS resolution (unless AllowPrivate), redirects are not
// followed (a 3xx is an answer like any other non-2xx), keep-alive
// connections are reused, and every attempt is bounded in time.
func NewClient(cfg ClientConfig) *http.Client {
	cfg = cfg.withDefaults()
	d := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	if !cfg.AllowPrivate {
		d.Control = guardian.Safe
	}
	tr := &http.Transport{
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ResponseHeaderTimeout: cfg.Timeout,
		DisableCompression:    true,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// maxURL bounds a webhook URL's length.
const maxURL = 2048

// ValidateURL checks a webhook URL at subscription: absolute http(s), no
// credentials or fragment, and a host whose every address may be reached
// (unless allowPrivate). Connections are checked again at every attempt,
// so a name that later resolves elsewhere gains nothing. The error is
// meant for the API's caller.
func ValidateURL(ctx context.Context, raw string, allowPrivate bool) error {
	if raw == "" {
		return errors.New("is required")
	}
	if len(raw) > maxURL {
		return fmt.Errorf("must be at most %d characters", maxURL)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return errors.New("must be an absolute http or https URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must use http or https")
	case u.User != nil:
		return errors.New("must not carry credentials")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("must not have a fragment")
	}
	if allowPrivate {
		return nil
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil || len(addrs) == 0 {
			return fmt.Errorf("host %q does not resolve", host)
		}
	}
	for _, a := range addrs {
		if err := guardian.SafeAddr(a.Unmap()); err != nil {
			return fmt.Errorf("host %q resolves to %s, a loopback, private, link-local or otherwise reserved address", host, a)
		}
	}
	return nil
}

// Limits of what an attempt reads of the answer.
const (
	keepBody    = 4 << 10  // shown in diagnostics
	discardBody = 64 << 10 // read past that for connection reuse, then closed
)

// NewSender returns the Sender of deliveries over client: a Standard
// Webhooks request, the answer's first 4 KiB kept, errors classified.
func NewSender(client *http.Client) Sender {
	return func(ctx context.Context, o Outbound) SendResult {
		start := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(o.Body))
		if err != nil {
			return SendResult{ErrorClass: "invalid_url", Error: "the webhook URL cannot be requested"}
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "Gatehouse-Webhooks/1")
		req.Header.Set("webhook-id", o.ID)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(o.Timestamp.Unix(), 10))
		req.Header.Set("webhook-signature", Sign(o.ID, o.Timestamp, o.Body, o.Secrets...))
		res, err := client.Do(req)
		if err != nil {
			class, msg := classify(err)
			return SendResult{Duration: time.Since(start), ErrorClass: class, Error: msg}
		}
		defer res.Body.Close()
		kept, _ := io.ReadAll(io.LimitReader(res.Body, keepBody))
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, discardBody))
		r := SendResult{StatusCode: res.StatusCode, Duration: time.Since(start), ResponseBody: strings.ToValidUTF8(string(kept), string(utf8.RuneError))}
		if res.StatusCode < 200 || res.StatusCode > 299 {
			r.ErrorClass, r.Error = "http_status", "the endpoint answered "+res.Status
			r.RetryAfter = retryAfter(res.Header.Get("Retry-After"), time.Now())
		}
		return r
	}
}

// classify names what went wrong with a request that got no answer, in
// words safe to show the webhook's owner.
func classify(err error) (class, msg string) {
	var dns *net.DNSError
	var ne net.Error
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.Is(err, ssrf.ErrProhibitedIP), errors.Is(err, ssrf.ErrProhibitedPort), errors.Is(err, ssrf.ErrProhibitedNetwork):
		return "ssrf_refused", "the URL resolves to an address deliveries may not reach (loopback, private, link-local or reserved)"
	case errors.As(err, &dns):
		return "dns", "the host name does not resolve"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return "timeout", "no answer within the delivery timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused", "the endpoint refused the connection"
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostErr), strings.Contains(err.Error(), "tls:"):
		return "tls", "the TLS handshake failed"
	}
	return "network", "the connection failed"
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// DefaultSchedule is the wait before each retry (API.md "Webhooks").
var DefaultSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// maxRetryAfter caps how long an endpoint's Retry-After can push a retry.
const maxRetryAfter = 24 * time.Hour

// Backoff returns the Retries of schedule: after n failed attempts the
// n-th wait, ±20 % uniform jitter (rnd gives [0, 1); nil: math/rand),
// lengthened to an endpoint's Retry-After (capped at 24 h); none after
// the schedule's end.
func Backoff(schedule []time.Duration, rnd func() float64) Retries {
	if rnd == nil {
		rnd = mrand.Float64
	}
	return func(n int, after time.Duration) (time.Duration, bool) {
		if n < 1 || n > len(schedule) {
			return 0, false
		}
		wait := time.Duration(float64(schedule[n-1]) * (0.8 + 0.4*rnd()))
		return max(wait, min(after, maxRetryAfter)), true
	}
}

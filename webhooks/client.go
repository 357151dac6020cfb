package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"code.dny.dev/ssrf"
	"golang.org/x/net/idna"
)

// ClientConfig shapes the outbound HTTP client of deliveries.
type ClientConfig struct {
	// AllowPrivate lets deliveries reach loopback, private, link-local and
	// other special-purpose addresses (GATEHOUSE_WEBHOOK_ALLOW_PRIVATE).
	AllowPrivate bool
	// ConnectTimeout bounds the TCP connection and, separately, the TLS
	// handshake (default 5s).
	ConnectTimeout time.Duration
	// Timeout bounds a whole attempt, from the connection to the last byte
	// of the answer's body read (default 15s; GATEHOUSE_WEBHOOK_TIMEOUT).
	Timeout time.Duration
	// MaxIdlePerHost is how many idle keep-alive connections to one
	// endpoint are kept for the next deliveries (default
	// DefaultPerWebhook: one for each attempt that may be in flight).
	MaxIdlePerHost int
	// LookupIP, when set, resolves host names at connection time instead
	// of the system resolver (tests: a name that resolves to a private
	// address only when connecting, as a rebinding name would). The guard
	// checks the addresses it gives like any others.
	LookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
}

func (c ClientConfig) withDefaults() ClientConfig {
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 5 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 15 * time.Second
	}
	if c.MaxIdlePerHost <= 0 {
		c.MaxIdlePerHost = DefaultPerWebhook
	}
	return c
}

// guardian refuses, on any port, the addresses code.dny.dev/ssrf denies:
// IPv4 "this network", private (RFC 1918), shared (CGNAT), loopback,
// link-local (the 169.254.169.254 metadata service among them), protocol
// assignments, documentation, benchmarking, multicast and reserved ranges;
// IPv6 outside global unicast 2000::/3 (loopback, unspecified,
// IPv4-mapped, NAT64, unique-local, link-local, multicast) and within it
// the protocol assignment, documentation and 6to4 ranges.
var guardian = ssrf.New(ssrf.WithAnyPort())

// NewClient returns the client deliveries use (with Deliver). Unless
// AllowPrivate, the address of every connection is checked after DNS
// resolution, when the socket is about to connect, so a name that
// resolves (or rebinds) to a refused address fails with ClassSSRFRefused.
// It follows no redirect (a 3xx is the answer), uses no proxy from the
// environment, reuses keep-alive connections, bounds the connection, the
// TLS handshake, the answer's headers (64 KiB) and the whole attempt.
func NewClient(cfg ClientConfig) *http.Client {
	cfg = cfg.withDefaults()
	d := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	if !cfg.AllowPrivate {
		d.Control = guardian.Safe
	}
	dial := d.DialContext
	if cfg.LookupIP != nil {
		dial = dialResolved(d, cfg.LookupIP)
	}
	tr := &http.Transport{
		Proxy:                  nil, // a proxy would connect for us, past the guard
		DialContext:            dial,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           512,
		MaxIdleConnsPerHost:    cfg.MaxIdlePerHost,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    cfg.ConnectTimeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
		DisableCompression:     true,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// dialResolved dials through d the addresses lookup gives for the host
// of addr, in order, until one connects (an address literal is dialled
// as it is). d's guard checks each.
func dialResolved(d *net.Dialer, lookup func(context.Context, string) ([]netip.Addr, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if _, err := netip.ParseAddr(host); err == nil {
			return d.DialContext(ctx, network, addr)
		}
		addrs, err := lookup(ctx, host)
		if err != nil {
			return nil, &net.DNSError{Err: err.Error(), Name: host}
		}
		if len(addrs) == 0 {
			return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
		for _, a := range addrs {
			var c net.Conn
			if c, err = d.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port)); err == nil {
				return c, nil
			}
		}
		return nil, err
	}
}

// MaxURL bounds a webhook URL's length.
const MaxURL = 2048

// resolveTimeout bounds ValidateURL's DNS resolution.
const resolveTimeout = 5 * time.Second

// ValidateURL checks a webhook URL when a subscription is created or
// changed: at most 2048 characters, absolute http or https, a host, a port
// from 1 to 65535 if any, no credentials, no fragment, and a host that
// resolves (within 5 s). Unless allowPrivate, every address it resolves to
// must be one that NewClient's guard allows. Connections are checked again
// at every attempt, so a name that later resolves elsewhere gains nothing.
// The error is a sentence about the URL, meant for the API's caller (a 400
// field error); it starts in lower case ("must use http or https").
func ValidateURL(ctx context.Context, raw string, allowPrivate bool) error {
	u, err := parseURL(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	ascii, err := DialHost(host)
	if err != nil {
		return fmt.Errorf("must name a valid host: %q has no ASCII (IDNA) form", host)
	}
	if a, err := netip.ParseAddr(ascii); err == nil {
		if !allowPrivate && guardian.SafeAddr(a.Unmap()) != nil {
			return fmt.Errorf("must not point to %s, a loopback, private, link-local or otherwise reserved address", ascii)
		}
		return nil
	}
	addrs, err := resolve(ctx, host, ascii)
	if err != nil || allowPrivate {
		return err
	}
	for _, a := range addrs {
		if guardian.SafeAddr(a.Unmap()) != nil {
			return fmt.Errorf("host %q resolves to %s, a loopback, private, link-local or otherwise reserved address", host, a.Unmap())
		}
	}
	return nil
}

// parseURL checks the form of a webhook URL.
func parseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("is required")
	}
	if len(raw) > MaxURL {
		return nil, fmt.Errorf("must be at most %d characters", MaxURL)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs():
		return nil, errors.New("must be an absolute http or https URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("must use http or https")
	case u.Hostname() == "":
		return nil, errors.New("must name a host")
	case u.User != nil:
		return nil, errors.New("must not carry credentials")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, errors.New("must not have a fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, errors.New("must have a port from 1 to 65535")
		}
	}
	return u, nil
}

// DialHost is the host net/http's transport (and so the delivery's and
// the proxy's dialer) connects to for a URL's host: as written when it is
// ASCII, else its IDNA ASCII form (UTS #46 lookup: "bücher.example" is
// "xn--bcher-kva.example", and "127。0。0。1", with ideographic full
// stops, is the address 127.0.0.1). An error: a non-ASCII host with no
// ASCII form, which net/http refuses to send.
func DialHost(host string) (string, error) {
	for i := 0; i < len(host); i++ {
		if host[i] >= utf8.RuneSelf {
			return idna.Lookup.ToASCII(host)
		}
	}
	return host, nil
}

// lookupNetIP resolves host names for ValidateURL (tests replace it).
var lookupNetIP = net.DefaultResolver.LookupNetIP

// resolve returns the addresses of host, looking up its DialHost form
// ascii.
func resolve(ctx context.Context, host, ascii string) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := lookupNetIP(ctx, "ip", ascii)
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("host %q does not resolve", host)
	}
	return addrs, nil
}

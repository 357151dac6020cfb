package webhooks_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/gatehouse/gatehouse/internal/quietport"
	"github.com/gatehouse/gatehouse/webhooks"
)

// TestDeliverSendsAStandardWebhook: the endpoint gets a POST of the body
// with the Standard Webhooks headers, which the reference library
// verifies with either live secret.
func TestDeliverSendsAStandardWebhook(t *testing.T) {
	type got struct {
		method string
		h      http.Header
		body   []byte
	}
	reqs := make(chan got, 1)
	ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		reqs <- got{r.Method, r.Header.Clone(), b}
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	s1, k1 := webhooks.NewSecret()
	s2, k2 := webhooks.NewSecret()
	o := webhooks.Outbound{URL: ep.URL + "/hooks?x=1", ID: "msg_2tqN3tlTSjuB1J9cqNvJOzLPTHy", Timestamp: time.Now(),
		Body: []byte(`{"type":"case.updated","timestamp":"2026-11-22T10:00:00Z","data":{"id":"c1"}}`), Secrets: [][]byte{k1, k2}}
	before := time.Now()
	r := webhooks.Deliver(t.Context(), unguarded, o)
	if r.ErrorClass != "" || r.Error != "" || r.StatusCode != http.StatusAccepted || r.ResponseBody != `{"ok":true}` || r.Gone || r.RetryAfter != 0 {
		t.Fatalf("result %+v", r)
	}
	if r.At.Before(before) || r.At.After(time.Now()) || r.Duration <= 0 {
		t.Errorf("at %s, duration %s", r.At, r.Duration)
	}
	g := <-reqs
	if g.method != http.MethodPost || !bytes.Equal(g.body, o.Body) {
		t.Errorf("%s of %q", g.method, g.body)
	}
	for k, want := range map[string]string{"Content-Type": "application/json", "User-Agent": "Gatehouse-Webhooks/1", "Webhook-Id": o.ID} {
		if g.h.Get(k) != want {
			t.Errorf("%s: %q, want %q", k, g.h.Get(k), want)
		}
	}
	for _, s := range []string{s1, s2} {
		wh, _ := standardwebhooks.NewWebhook(s)
		if err := wh.Verify(g.body, g.h); err != nil {
			t.Errorf("the endpoint cannot verify the delivery: %v", err)
		}
	}
}

func TestDeliverOutcomes(t *testing.T) {
	for _, tc := range []struct {
		code        int
		retryAfter  string
		wantClass   string
		wantError   string
		wantGone    bool
		wantRetryIn time.Duration
	}{
		{code: 200},
		{code: 201},
		{code: 204},
		{code: 299},
		{code: 304, wantClass: "http_status", wantError: "the endpoint answered 304 Not Modified"},
		{code: 400, wantClass: "http_status", wantError: "the endpoint answered 400 Bad Request"},
		{code: 410, wantClass: "http_status", wantError: "the endpoint answered 410 Gone", wantGone: true},
		{code: 429, retryAfter: "120", wantClass: "http_status", wantError: "the endpoint answered 429 Too Many Requests", wantRetryIn: 2 * time.Minute},
		{code: 503, retryAfter: "100000", wantClass: "http_status", wantError: "the endpoint answered 503 Service Unavailable", wantRetryIn: 24 * time.Hour},
		{code: 503, retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT", wantClass: "http_status", wantError: "answered 503"},
		{code: 500, retryAfter: "soon", wantClass: "http_status", wantError: "answered 500"},
		{code: 200, retryAfter: "60"}, // a success has no retry
		{code: 599, wantClass: "http_status", wantError: "the endpoint answered 599"},
	} {
		ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
			if tc.retryAfter != "" {
				w.Header().Set("Retry-After", tc.retryAfter)
			}
			w.WriteHeader(tc.code)
		})
		r := webhooks.Deliver(t.Context(), unguarded, outbound(ep.URL))
		if r.StatusCode != tc.code || r.ErrorClass != tc.wantClass || !strings.Contains(r.Error, tc.wantError) ||
			(tc.wantError == "") != (r.Error == "") || r.Gone != tc.wantGone || r.RetryAfter != tc.wantRetryIn {
			t.Errorf("%d (Retry-After %q): %+v", tc.code, tc.retryAfter, r)
		}
	}
}

func TestDeliverRetryAfterDate(t *testing.T) {
	ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(2*time.Hour).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	r := webhooks.Deliver(t.Context(), unguarded, outbound(ep.URL))
	if r.RetryAfter <= 2*time.Hour-time.Minute || r.RetryAfter > 2*time.Hour {
		t.Errorf("Retry-After in 2 hours read as %s", r.RetryAfter)
	}
}

// TestDeliverKeepsFourKiBOfValidText: the body kept is valid UTF-8 of at
// most 4 KiB whatever the endpoint sends.
func TestDeliverKeepsFourKiBOfValidText(t *testing.T) {
	for name, tc := range map[string]struct {
		body []byte
		want func(string) bool
	}{
		"short": {[]byte("héllo"), func(s string) bool { return s == "héllo" }},
		"long":  {bytes.Repeat([]byte("y"), 100<<10), func(s string) bool { return s == strings.Repeat("y", 4096) }},
		"invalid bytes": {bytes.Repeat([]byte{0xff, 'a'}, 3000), func(s string) bool {
			return utf8.ValidString(s) && len(s) <= 4096 && strings.HasPrefix(s, "\uFFFDa\uFFFDa")
		}},
		"a rune cut at 4 KiB":    {append(bytes.Repeat([]byte("a"), 4095), "é"...), func(s string) bool { return s == strings.Repeat("a", 4095) }},
		"a rune ending at 4 KiB": {append(bytes.Repeat([]byte("a"), 4094), "é"...), func(s string) bool { return s == strings.Repeat("a", 4094)+"é" }},
	} {
		ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write(tc.body)
		})
		r := webhooks.Deliver(t.Context(), unguarded, outbound(ep.URL))
		if !tc.want(r.ResponseBody) {
			t.Errorf("%s: kept %d bytes %.40q…", name, len(r.ResponseBody), r.ResponseBody)
		}
	}
}

func TestDeliverFailures(t *testing.T) {
	ep := newEndpoint(t, answer(http.StatusOK))
	tlsEP := httptest.NewTLSServer(answer(http.StatusOK)) // its certificate is not trusted
	t.Cleanup(tlsEP.Close)
	l, err := quietport.Listen()
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/hook"
	_ = l.Close()
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	noSecret := outbound(ep.URL)
	noSecret.Secrets = nil
	for name, tc := range map[string]struct {
		ctx  context.Context
		o    webhooks.Outbound
		want string
	}{
		"nothing listens":     {t.Context(), outbound(closed), webhooks.ClassConnectionRefused},
		"unknown host":        {t.Context(), outbound("http://nonexistent.invalid/hook"), webhooks.ClassDNS},
		"untrusted TLS":       {t.Context(), outbound(tlsEP.URL), webhooks.ClassTLS},
		"plain HTTP to TLS":   {t.Context(), outbound(strings.Replace(tlsEP.URL, "https:", "http:", 1)), webhooks.ClassHTTPStatus},
		"context ended":       {canceled, outbound(ep.URL), webhooks.ClassCanceled},
		"no secret":           {t.Context(), noSecret, webhooks.ClassNoSecret},
		"not a URL":           {t.Context(), outbound("http://a b/hook"), webhooks.ClassInvalidURL},
		"TLS to a plain port": {t.Context(), outbound(strings.Replace(ep.URL, "http:", "https:", 1)), webhooks.ClassTLS},
	} {
		r := webhooks.Deliver(tc.ctx, unguarded, tc.o)
		if r.ErrorClass != tc.want || r.Error == "" || r.At.IsZero() {
			t.Errorf("%s: %+v, want class %s", name, r, tc.want)
		}
		if tc.want != webhooks.ClassHTTPStatus && (r.StatusCode != 0 || strings.Contains(r.Error, "127.0.0.1")) {
			t.Errorf("%s: status %d, error %q (no internals)", name, r.StatusCode, r.Error)
		}
	}
	if n := ep.hits.Load(); n != 0 {
		t.Errorf("the endpoint got %d requests (no secret, ended context)", n)
	}
}

func TestNewSenderDelivers(t *testing.T) {
	ep := newEndpoint(t, answer(http.StatusNoContent))
	send := webhooks.NewSender(unguarded)
	if r := send(t.Context(), outbound(ep.URL)); r.StatusCode != http.StatusNoContent || r.ErrorClass != "" {
		t.Errorf("%+v", r)
	}
}

package webhooks_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/gatehouse/gatehouse/webhooks"
)

// TestSignVerifiesWithStandardWebhooks checks the signature with the
// Standard Webhooks reference library: each live secret alone verifies a
// request signed with both, and a changed body does not.
func TestSignVerifiesWithStandardWebhooks(t *testing.T) {
	s1, k1 := webhooks.NewSecret()
	s2, k2 := webhooks.NewSecret()
	if !strings.HasPrefix(s1, "whsec_") {
		t.Fatalf("secret %q lacks whsec_", s1)
	}
	if k, err := webhooks.ParseSecret(s1); err != nil || !bytes.Equal(k, k1) {
		t.Fatalf("ParseSecret: %v", err)
	}
	if _, err := webhooks.ParseSecret("whsec_short"); err == nil {
		t.Error("a short secret parsed")
	}
	body := []byte(`{"type":"case.updated","timestamp":"2026-11-22T10:00:00Z","data":{"id":1}}`)
	now := time.Now()
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", webhooks.Sign("msg_1", now, body, k1, k2))
	for _, s := range []string{s1, s2} {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("verify with one of two live secrets: %v", err)
		}
		if err := wh.Verify(append(body, ' '), h); err == nil {
			t.Error("a changed body verified")
		}
	}
	other, _ := webhooks.NewSecret()
	wh, _ := standardwebhooks.NewWebhook(other)
	if err := wh.Verify(body, h); err == nil {
		t.Error("a secret that did not sign verified")
	}
}

func TestValidateURL(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		url, want string
	}{
		{"http://localhost:8080/hook", "resolves to"},
		{"http://127.0.0.1/hook", "resolves to"},
		{"https://10.1.2.3/hook", "resolves to"},
		{"http://169.254.169.254/latest/meta-data", "resolves to"},
		{"http://[::1]/hook", "resolves to"},
		{"http://[fe80::1]/hook", "resolves to"},
		{"http://100.64.0.1/hook", "resolves to"},
		{"ftp://example.com/hook", "http or https"},
		{"https://user:pass@example.com/hook", "credentials"},
		{"https://example.com/hook#frag", "fragment"},
		{"/relative", "absolute"},
		{"", "required"},
		{"https://" + strings.Repeat("a", 2048) + ".com", "at most"},
	} {
		err := webhooks.ValidateURL(ctx, tc.url, false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ValidateURL(%q) = %v, want an error saying %q", tc.url, err, tc.want)
		}
	}
	if err := webhooks.ValidateURL(ctx, "https://93.184.215.14/hook", false); err != nil {
		t.Errorf("a public address was refused: %v", err)
	}
	if err := webhooks.ValidateURL(ctx, "http://localhost:8080/hook", true); err != nil {
		t.Errorf("with private addresses allowed: %v", err)
	}
}

func TestSenderRefusesPrivateAddressesAtConnection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	o := webhooks.Outbound{URL: srv.URL, ID: "msg_1", Timestamp: time.Now(), Body: []byte(`{}`), Secrets: [][]byte{[]byte("k")}}
	guarded := webhooks.NewSender(webhooks.NewClient(webhooks.ClientConfig{}))
	if r := guarded(context.Background(), o); r.ErrorClass != "ssrf_refused" || r.StatusCode != 0 {
		t.Errorf("to 127.0.0.1 without AllowPrivate: %+v, want ssrf_refused", r)
	}
	// "localhost" resolves to loopback: refused at connection time too.
	o.URL = strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	if r := guarded(context.Background(), o); r.ErrorClass != "ssrf_refused" {
		t.Errorf("to localhost without AllowPrivate: %+v, want ssrf_refused", r)
	}
	open := webhooks.NewSender(webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: true}))
	o.URL = srv.URL
	if r := open(context.Background(), o); r.ErrorClass != "" || r.StatusCode != http.StatusNoContent {
		t.Errorf("with AllowPrivate: %+v, want 204", r)
	}
}

func TestSenderAnswers(t *testing.T) {
	var gotHeaders http.Header
	mux := http.NewServeMux()
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://10.0.0.1/internal", http.StatusFound)
	})
	mux.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(bytes.Repeat([]byte("x"), 100<<10))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select { // longer than the client's timeout
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		gotHeaders = r.Header.Clone()
		w.WriteHeader(http.StatusOK)
	})
	srv := httptest.NewServer(mux)
	defer func() { srv.CloseClientConnections(); srv.Close() }()
	send := webhooks.NewSender(webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: true, Timeout: 300 * time.Millisecond}))
	o := webhooks.Outbound{ID: "msg_1", Timestamp: time.Unix(1795000000, 0), Body: []byte(`{"a":1}`), Secrets: [][]byte{[]byte("k1"), []byte("k2")}}
	at := func(path string) webhooks.SendResult {
		o.URL = srv.URL + path
		return send(context.Background(), o)
	}
	if r := at("/redirect"); r.StatusCode != http.StatusFound || r.ErrorClass != "http_status" {
		t.Errorf("a redirect: %+v, want 302 recorded as a failure, not followed", r)
	}
	if r := at("/busy"); r.StatusCode != 503 || r.RetryAfter != 120*time.Second || len(r.ResponseBody) != 4<<10 {
		t.Errorf("busy: status %d, retry after %s, %d bytes of body kept", r.StatusCode, r.RetryAfter, len(r.ResponseBody))
	}
	if r := at("/slow"); r.ErrorClass != "timeout" {
		t.Errorf("slow: %+v, want timeout", r)
	}
	if r := at("/ok"); r.ErrorClass != "" || r.StatusCode != 200 {
		t.Fatalf("ok: %+v", r)
	}
	if gotHeaders.Get("webhook-id") != "msg_1" || gotHeaders.Get("webhook-timestamp") != "1795000000" ||
		len(strings.Fields(gotHeaders.Get("webhook-signature"))) != 2 || gotHeaders.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", gotHeaders)
	}
	o.URL = "http://127.0.0.1:1/nothing"
	if r := send(context.Background(), o); r.ErrorClass != "connection_refused" {
		t.Errorf("closed port: %+v", r)
	}
}

func TestBackoff(t *testing.T) {
	sched := []time.Duration{10 * time.Second, time.Minute}
	low := webhooks.Backoff(sched, func() float64 { return 0 })
	high := webhooks.Backoff(sched, func() float64 { return 0.999999 })
	if w, ok := low(1, 0); !ok || w != 8*time.Second {
		t.Errorf("first retry, lowest jitter: %s %v, want 8s", w, ok)
	}
	if w, _ := high(2, 0); w < 71*time.Second || w > 72*time.Second {
		t.Errorf("second retry, highest jitter: %s, want about 72s", w)
	}
	if w, _ := low(1, 5*time.Minute); w != 5*time.Minute {
		t.Errorf("Retry-After 5m: %s, want it honoured", w)
	}
	if w, _ := low(1, 100*time.Hour); w != 24*time.Hour {
		t.Errorf("Retry-After 100h: %s, want capped at 24h", w)
	}
	if _, ok := low(3, 0); ok {
		t.Error("a retry after the schedule's end")
	}
}

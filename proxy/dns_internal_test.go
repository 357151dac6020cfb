package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/webhooks"
)

// TestPrivateAddressAtConnectionTime: a base_url whose name resolves to a
// private address only when the proxy connects (a rebinding name; the
// test's resolver answers 127.0.0.1) is refused by the webhooks' guard on
// the proxy's own path (rewrite, retrying transport, error handler) and
// answered 502 upstream_error saying why; the upstream sees nothing.
// The same name through a client that allows private addresses reaches
// it, so the refusal is the guard's, not a failed lookup.
func TestPrivateAddressAtConnectionTime(t *testing.T) {
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	t.Cleanup(up.Close)
	_, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	var lookups atomic.Int64
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		lookups.Add(1)
		if host != "api.rebind.test" {
			return nil, errors.New("no such host")
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	target, _ := url.Parse("http://api.rebind.test:" + port + "/v1/items")

	send := func(allowPrivate bool) (*httptest.ResponseRecorder, *call) {
		client := webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: allowPrivate, LookupIP: lookup})
		p := New(Config{Transport: client.Transport})
		cl := &call{appID: "app_1", token: "provider-token", version: 1, target: target}
		cl.cred.ID = "cred_1"
		req := httptest.NewRequest(http.MethodGet, "/v1/proxy/cred_1/v1/items", nil)
		rec := httptest.NewRecorder()
		p.rp.ServeHTTP(rec, req.WithContext(context.WithValue(req.Context(), callKey{}, cl)))
		return rec, cl
	}

	_, cl := send(false)
	if cl.err == nil || hits.Load() != 0 || lookups.Load() == 0 {
		t.Fatalf("guarded: err %v, upstream hits %d, lookups %d", cl.err, hits.Load(), lookups.Load())
	}
	var prob *httpapi.Problem
	if !errors.As(New(Config{}).problemOf(cl.err), &prob) || prob.Status != http.StatusBadGateway || prob.Code != "upstream_error" ||
		!strings.Contains(prob.Detail, "private") {
		t.Fatalf("problem %+v for %v", prob, cl.err)
	}

	rec, cl := send(true)
	if cl.err != nil || rec.Code != http.StatusOK || hits.Load() != 1 {
		t.Fatalf("allowed: err %v, status %d, upstream hits %d", cl.err, rec.Code, hits.Load())
	}
}

package vault

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// countingReader counts the single-document reads (Get, Lookup) made
// through it.
type countingReader struct {
	projections.Reader
	reads atomic.Int64
}

func (r *countingReader) Get(ctx context.Context, kind, id string) (projections.Doc, error) {
	r.reads.Add(1)
	return r.Reader.Get(ctx, kind, id)
}

func (r *countingReader) Lookup(ctx context.Context, kind, key string) (projections.Doc, error) {
	r.reads.Add(1)
	return r.Reader.Lookup(ctx, kind, key)
}

// TestListActivitiesValidatesFirst: GET /v1/platform/activities with a
// bad ?limit= or ?cursor= is 400 validation_error before the caller's
// quorum identities (its app) are read; a good page reads them.
func TestListActivitiesValidatesFirst(t *testing.T) {
	store := &countingReader{Reader: memory.New()}
	a := &API{Vault: &Vault{Store: store, Now: time.Now}}
	e := httpapi.NewEcho(httpapi.Options{Registry: prometheus.NewRegistry()})
	e.GET("/v1/platform/activities", a.listActivities, func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			oauth.SetPrincipal(c, oauth.Principal{Tenant: "ten_a", AppID: "app_a", ClientID: "cl_a", Subject: "cl_a"})
			return next(c)
		}
	})
	for _, q := range []string{"limit=0", "limit=501", "limit=ten", "limit=-1", "cursor=not-a-cursor"} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/platform/activities?"+q, nil))
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"validation_error"`) {
			t.Fatalf("?%s: %d %s, want 400 validation_error", q, rec.Code, rec.Body)
		}
		if n := store.reads.Load(); n != 0 {
			t.Fatalf("?%s: %d reads before the answer, want none", q, n)
		}
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/platform/activities?limit=10", nil))
	if store.reads.Load() == 0 {
		t.Fatalf("a good page read nothing (%d %s): the counter sees no reads", rec.Code, rec.Body)
	}
}

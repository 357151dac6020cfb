package vault

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// refusingReader is a store whose single-document reads (Get, Lookup)
// fail.
type refusingReader struct{ projections.Reader }

var errRefused = errors.New("refused read")

func (refusingReader) Get(context.Context, string, string) (projections.Doc, error) {
	return projections.Doc{}, errRefused
}

func (refusingReader) Lookup(context.Context, string, string) (projections.Doc, error) {
	return projections.Doc{}, errRefused
}

// TestListActivitiesValidatesFirst: GET /v1/platform/activities with a
// bad ?limit= or ?cursor= is 400 validation_error before the caller's
// quorum identities (its app) are read; a good page reads them (and
// fails here, as every read does).
func TestListActivitiesValidatesFirst(t *testing.T) {
	store := refusingReader{Reader: memory.New()}
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
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/platform/activities?limit=10", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("a good page: %d %s, want 500 (its read refused)", rec.Code, rec.Body)
	}
}

package server_test

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestHTTPDeliveriesValidateBeforeRead: GET
// /v1/webhooks/{id}/deliveries checks ?limit=, ?cursor= and ?status=
// before it reads the webhook: a bad page of an unknown webhook is 400,
// a good one 404.
func TestHTTPDeliveriesValidateBeforeRead(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	path := "/v1/webhooks/wh_missing/deliveries"
	for _, q := range []string{"limit=0", "limit=501", "limit=x", "status=lost"} {
		wantProblem(t, s.Do(http.MethodGet, path+"?"+q, admin, nil), http.StatusBadRequest, "validation_error")
	}
	wantProblem(t, s.Do(http.MethodGet, path+"?limit=10&status=failed", admin, nil), http.StatusNotFound, "not_found")
}

package graphql

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/projections"
)

// TestReadProblemMapsAsREST: a read's error is the field's error with the
// code the REST API answers for it. The projections' store or the log out
// of reach is unavailable (503, a retry), as GET answers it; it was
// "internal". An unknown error stays internal and hides its text.
func TestReadProblemMapsAsREST(t *testing.T) {
	for _, tc := range []struct {
		err    error
		code   string
		status int
	}{
		{fmt.Errorf("list apps: %w", projections.ErrUnavailable), httpapi.CodeUnavailable, 503},
		{fmt.Errorf("catch up: %w", events.ErrUnavailable), httpapi.CodeUnavailable, 503},
		{httpapi.NotFound("app"), httpapi.CodeNotFound, 404},
		{errors.New("pgx: secret-detail"), httpapi.CodeInternal, 0},
	} {
		var g *gqlerror.Error
		if !errors.As(readProblem(tc.err), &g) {
			t.Fatalf("%v: not a GraphQL error", tc.err)
		}
		if g.Extensions["code"] != tc.code {
			t.Errorf("%v: code %v, want %s", tc.err, g.Extensions["code"], tc.code)
		}
		if tc.status != 0 && g.Extensions["status"] != tc.status {
			t.Errorf("%v: status %v, want %d", tc.err, g.Extensions["status"], tc.status)
		}
		if strings.Contains(g.Message, "secret-detail") || strings.Contains(g.Message, "unavailable:") {
			t.Errorf("%v: the message shows the cause: %q", tc.err, g.Message)
		}
	}
	if !asksRetry(false, &graphql.Response{Errors: gqlerror.List{readProblem(projections.ErrUnavailable).(*gqlerror.Error)}}) {
		t.Error("an unavailable read does not ask for a retry")
	}
}

package graphql_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/internal/loadgen"
	"github.com/gatehouse/gatehouse/server/servertest"
)

// The figures of issue 17 without the network or the load generator:
// the graphql scenario's request (50 apps with their scopes and webhooks)
// and the graphql-rest scenario's two requests, served by the whole
// server's handler in process. Allocations per answer are the measure
// this loaded machine does not blur (go test -bench . -benchmem).

// benchData is a server with the scenarios' data and an admin token.
func benchData(b *testing.B) (*servertest.Server, string) {
	b.Helper()
	s := servertest.New(b, servertest.Env("RATE_PLATFORM", "0"))
	tok, err := loadgen.SeedGraphQL(b.Context(), http.DefaultClient, s.URL, s.AdminID, s.AdminSecret)
	if err != nil {
		b.Fatalf("seed: %v", err)
	}
	return s, tok
}

// serve answers req in process and fails unless it is a 200 whose body
// holds want.
func serve(b *testing.B, h http.Handler, req *http.Request, want []byte) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), want) {
		b.Fatalf("%s %s: %d %.300s", req.Method, req.URL, w.Code, w.Body.Bytes())
	}
}

func BenchmarkGraphQLApps50(b *testing.B) {
	s, tok := benchData(b)
	h := s.Server.Handler()
	body := []byte(`{"query":"` + loadgen.GraphQLBenchQuery + `"}`)
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/graphql", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		serve(b, h, req, []byte(`"webhooks":[{`))
	}
}

func BenchmarkRESTApps50(b *testing.B) {
	s, tok := benchData(b)
	h := s.Server.Handler()
	for b.Loop() {
		for _, u := range []string{"/v1/platform/apps?limit=50", "/v1/webhooks?limit=500"} {
			req := httptest.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			serve(b, h, req, []byte(`"items":[{`))
		}
	}
}

package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// The package tests of the HTTP layer (http_*_test.go) run the whole
// server in-process through servertest and check each answer's status
// and shape; the e2e suite keeps what needs the real binary.

// app is the App object of API.md "Apps", with the secret of a create.
type app struct {
	ID           string         `json:"id"`
	ClientID     string         `json:"client_id"`
	ClientSecret string         `json:"client_secret"`
	Name         string         `json:"name"`
	GrantTypes   []string       `json:"grant_types"`
	Active       bool           `json:"active"`
	Metadata     map[string]any `json:"metadata"`
	Scopes       []appScope     `json:"scopes"`
	Secrets      []struct {
		ID        string  `json:"id"`
		ExpiresAt *string `json:"expires_at"`
	} `json:"secrets"`
	CreatedBy string `json:"created_by"`
	Version   int    `json:"version"`
}

type appScope struct {
	Scope     string   `json:"scope"`
	Status    string   `json:"status"`
	DecidedBy string   `json:"decided_by"`
	Reason    string   `json:"reason"`
	Approvals []string `json:"approvals"`
}

// scope is the entry of scope in a's scopes (zero when absent).
func (a app) scope(scope string) appScope {
	for _, s := range a.Scopes {
		if s.Scope == scope {
			return s
		}
	}
	return appScope{}
}

// problem is an RFC 9457 answer of the platform API.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Errors []struct {
		Field string `json:"field"`
	} `json:"errors"`
}

// want fails the test unless r has the status.
func want(t *testing.T, r servertest.Response, status int) servertest.Response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	return r
}

// wantProblem fails the test unless r is a problem+json answer with the
// status and code, its status member equal to the HTTP status.
func wantProblem(t *testing.T, r servertest.Response, status int, code string) problem {
	t.Helper()
	want(t, r, status)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("Content-Type %q, want application/problem+json: %s", ct, r.Body)
	}
	var p problem
	r.JSON(t, &p)
	if p.Status != status || p.Code != code || p.Title == "" {
		t.Fatalf("problem %+v, want status %d code %s", p, status, code)
	}
	return p
}

// createApp creates an app with the admin's token.
func createApp(t *testing.T, s *servertest.Server, admin string, body map[string]any) app {
	t.Helper()
	var a app
	want(t, s.Do(http.MethodPost, "/v1/platform/apps", admin, body), http.StatusCreated).JSON(t, &a)
	if a.ID == "" || a.ClientID == "" || a.ClientSecret == "" {
		t.Fatalf("create answered %+v, want id, client_id and client_secret", a)
	}
	return a
}

// decide posts a scope decision and returns the app it answers.
func decide(t *testing.T, s *servertest.Server, token, appID, scope, decision string) app {
	t.Helper()
	var a app
	want(t, s.Do(http.MethodPost, "/v1/platform/apps/"+appID+"/scope-decisions", token,
		map[string]any{"scope": scope, "decision": decision, "reason": decision + " in a test"}), http.StatusOK).JSON(t, &a)
	return a
}

// etag is the ETag of version v.
func etag(v int) string { return fmt.Sprintf(`"%d"`, v) }

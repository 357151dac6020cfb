package idp

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/sealing"
)

// failingReader is a store whose single-document reads (Get, Lookup) fail
// with err while it is set.
type failingReader struct {
	projections.Reader
	err error
}

func (r *failingReader) Get(ctx context.Context, kind, id string) (projections.Doc, error) {
	if r.err != nil {
		return projections.Doc{}, r.err
	}
	return r.Reader.Get(ctx, kind, id)
}

func (r *failingReader) Lookup(ctx context.Context, kind, key string) (projections.Doc, error) {
	if r.err != nil {
		return projections.Doc{}, r.err
	}
	return r.Reader.Lookup(ctx, kind, key)
}

// claimsOf verifies every token as the claims it is given.
type claimsOf oauth.AccessClaims

func (c claimsOf) VerifyAccessToken(string) (oauth.AccessClaims, error) {
	return oauth.AccessClaims(c), nil
}

// TestPersonEndpointsUnavailable: userinfo and GET /v1/me/consents answer
// 503 when the store or the log cannot be read (httpapi.IsUnavailable:
// events.ErrUnavailable as much as projections.ErrUnavailable), 401 only
// when the token is refused (its app unknown), 200 when both are well.
func TestPersonEndpointsUnavailable(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	master, err := sealing.New(bytes.Repeat([]byte{5}, sealing.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.New()
	actor := events.Actor{Kind: events.ActorSystem, ID: "test"}
	for i, ev := range []events.Event{
		events.MustNew(events.Ref{Tenant: "default", Type: events.AggApp, ID: "app_rp"}, actor, now.Add(-time.Hour),
			&events.AppCreated{AppSettings: events.AppSettings{ClientID: "cl_rp", Name: "Portal", GrantTypes: []string{"authorization_code"},
				TokenEndpointAuthMethod: "none", Active: true, AccessTokenTTLSeconds: 3600}}),
		events.MustNew(events.Ref{Tenant: "default", Type: events.AggUser, ID: "usr_ada"}, actor, now.Add(-time.Hour),
			&events.UserCreated{Email: "ada@example.com", Name: "Ada", Roles: []string{events.RoleMember}, PasswordHashSealed: "v1:x"}),
	} {
		ev.Stream, ev.Seq = events.Control, uint64(i+1)
		if err := mem.Update(t.Context(), ev.Stream, ev.Seq, func(tx projections.Tx) error { return projections.Apply(tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	store := &failingReader{Reader: mem}
	o, err := oauth.New(oauth.Config{Issuer: "https://gh.example", Master: master, Store: store, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	claims := oauth.AccessClaims{Issuer: "https://gh.example", Subject: "usr_ada", Audience: []string{"https://gh.example"},
		ClientID: "cl_rp", Scope: "openid", JTI: "jti_1", IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix(), Tenant: "default"}
	o.Checker().Verifier = claimsOf(claims)
	p := &IdP{cfg: Config{OAuth: o, Store: store, Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler)}}
	e := httpapi.NewEcho(httpapi.Options{Registry: prometheus.NewRegistry()})
	e.GET("/v1/oauth/userinfo", p.userinfo)
	e.GET("/v1/me/consents", p.myConsents)
	for _, c := range []struct {
		name   string
		err    error
		client string
		want   int
	}{
		{"readable", nil, "cl_rp", http.StatusOK},
		{"the log unavailable", fmt.Errorf("%w: test", events.ErrUnavailable), "cl_rp", http.StatusServiceUnavailable},
		{"the store unavailable", fmt.Errorf("%w: test", projections.ErrUnavailable), "cl_rp", http.StatusServiceUnavailable},
		{"the token refused", nil, "cl_unknown", http.StatusUnauthorized},
	} {
		store.err = c.err
		claims.ClientID = c.client
		o.Checker().Verifier = claimsOf(claims)
		for _, path := range []string{"/v1/oauth/userinfo", "/v1/me/consents"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Authorization", "Bearer tok")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Errorf("%s, %s: %d %s, want %d", c.name, path, rec.Code, rec.Body, c.want)
			}
		}
	}
}

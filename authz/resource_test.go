package authz

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

type adapterBody struct {
	Name string `json:"name"`
}

// adapterContext is a request with body to /things/:id (id "t1") by the
// caller of tenant acme.
func adapterContext(body string) echo.Context {
	req := httptest.NewRequest(http.MethodPatch, "/things/t1", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	c := echo.New().NewContext(req, httptest.NewRecorder())
	c.SetParamNames("id")
	c.SetParamValues("t1")
	oauth.SetPrincipal(c, oauth.Principal{Tenant: "acme", AppID: "app_a"})
	return c
}

func problemStatus(err error) int {
	var p *httpapi.Problem
	if errors.As(err, &p) {
		return p.Status
	}
	return 0
}

// TestHandleBody: the handler gets the caller and the bound body; a body
// BindJSON refuses is 400 and the handler does not run.
func TestHandleBody(t *testing.T) {
	var got adapterBody
	var caller oauth.Principal
	h := HandleBody(func(_ context.Context, _ echo.Context, p oauth.Principal, req adapterBody) error {
		got, caller = req, p
		return nil
	})
	if err := h(adapterContext(`{"name":"ada"}`)); err != nil || got.Name != "ada" || caller.Tenant != "acme" {
		t.Fatalf("err %v, body %+v, caller %+v", err, got, caller)
	}
	got = adapterBody{}
	if err := h(adapterContext(`{"nom":"ada"}`)); problemStatus(err) != http.StatusBadRequest || got.Name != "" {
		t.Fatalf("unknown member: err %v, body %+v; want 400 and no call", err, got)
	}
}

// TestHandleChange: the resource :id names is read for the caller before
// the body is looked at, so a missing or forbidden one answers 404 or 403
// whatever the body; then the body is bound (400) and the handler gets
// both.
func TestHandleChange(t *testing.T) {
	type thing struct{ ID, Owner string }
	r := Resource[thing]{What: "thing", CatchUp: func(context.Context) error { return nil },
		Get: func(_ context.Context, tenant, id string) (thing, error) {
			if tenant != "acme" || id != "t1" {
				return thing{}, projections.ErrNotFound
			}
			return thing{ID: id, Owner: "app_a"}, nil
		},
		May: func(p oauth.Principal, v thing) error {
			if p.AppID != v.Owner {
				return httpapi.Forbidden("not yours")
			}
			return nil
		}}
	calls := 0
	var cur thing
	var body adapterBody
	h := HandleChange(r, func(_ context.Context, _ echo.Context, _ oauth.Principal, v thing, req adapterBody) error {
		calls++
		cur, body = v, req
		return nil
	})
	if err := h(adapterContext(`{"name":"ada"}`)); err != nil || calls != 1 || cur.ID != "t1" || body.Name != "ada" {
		t.Fatalf("err %v, calls %d, cur %+v, body %+v", err, calls, cur, body)
	}
	if err := h(adapterContext(`not json`)); problemStatus(err) != http.StatusBadRequest || calls != 1 {
		t.Fatalf("bad body: err %v, calls %d; want 400 and no call", err, calls)
	}
	c := adapterContext(`not json`)
	c.SetParamValues("t2")
	if err := h(c); problemStatus(err) != http.StatusNotFound || calls != 1 {
		t.Fatalf("missing thing, bad body: err %v, calls %d; want 404 and no call", err, calls)
	}
	c = adapterContext(`not json`)
	oauth.SetPrincipal(c, oauth.Principal{Tenant: "acme", AppID: "app_b"})
	if err := h(c); problemStatus(err) != http.StatusForbidden || calls != 1 {
		t.Fatalf("another's thing, bad body: err %v, calls %d; want 403 and no call", err, calls)
	}
}

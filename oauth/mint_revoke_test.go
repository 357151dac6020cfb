package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
	"github.com/gatehouse/gatehouse/projections"
)

// TestOneMintPathOneRevocationPath: a token of the token endpoint and a
// service token are minted alike (claims, token.minted through the mints
// group committer, naming who minted), and revoking one token through RFC
// 7009 and again through the platform API's revocation appends one
// token.revoked: both paths share one dedupe id.
func TestOneMintPathOneRevocationPath(t *testing.T) {
	ctx := t.Context()
	now := time.Now().Truncate(time.Second)
	o, _ := fuzzOAuth(t, now)
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	mints := events.NewGroupCommitter(log, 16, 1)
	if err := mints.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mints.Close() })
	o.cfg.Log, o.minter.group = log, mints
	o.cfg.WaitFor = func(context.Context, events.Stream, uint64) error { return nil }
	e := echo.New()
	o.Register(e)
	post := func(path, form string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("cl_fuzz:"+url.QueryEscape(fuzzSecret))))
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}

	rec := post(tokenPath, "grant_type=client_credentials")
	if rec.Code != http.StatusOK {
		t.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	var answer struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
		t.Fatal(err)
	}
	app := projections.App{Tenant: "default", ID: "app_fuzz", AppSettings: events.AppSettings{ClientID: "cl_fuzz"}}
	admin := Principal{Tenant: "default", AppID: "app_admin", ClientID: "cl_admin"}
	svc, svcJTI, err := o.MintServiceToken(ctx, app, []string{"platform:apps:read"}, time.Minute, admin)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(tok string) AccessClaims {
		c, err := o.checker.Verifier.VerifyAccessToken(tok)
		if err != nil {
			t.Fatalf("verify %q: %v", tok, err)
		}
		return c
	}
	cc, sc := verify(answer.AccessToken), verify(svc)
	for _, c := range []AccessClaims{cc, sc} {
		if c.Issuer != fuzzIssuer || len(c.Audience) != 1 || c.Audience[0] != fuzzIssuer || c.Tenant != "default" || c.ClientID != "cl_fuzz" || c.Subject != "cl_fuzz" || c.Scope != "platform:apps:read" {
			t.Errorf("claims %+v", c)
		}
	}
	if cc.Act != nil || sc.Act == nil || sc.Act.AppID != "app_admin" || sc.JTI != svcJTI {
		t.Errorf("act claims: token endpoint %+v, service token %+v (jti %s)", cc.Act, sc.Act, svcJTI)
	}

	minted := map[string]events.Event{}
	revoked := 0
	read := func() {
		minted, revoked = map[string]events.Event{}, 0
		evs, _, err := log.Scan(ctx, events.HighVolume, "default", 0, 100, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			switch ev.Type {
			case "token.minted":
				var m events.TokenMinted
				if err := json.Unmarshal(ev.Data, &m); err != nil {
					t.Fatal(err)
				}
				minted[m.GrantType] = ev
			case "token.revoked":
				revoked++
			}
		}
	}
	read()
	if ev, ok := minted["client_credentials"]; !ok || ev.Actor.ID != "app_fuzz" {
		t.Errorf("token endpoint's token.minted: %+v", ev)
	}
	if ev, ok := minted["service_token"]; !ok || ev.Actor.ID != "app_admin" {
		t.Errorf("service token's token.minted: %+v", ev)
	}

	if rec := post("/v1/oauth/revoke", "token="+answer.AccessToken); rec.Code != http.StatusOK {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	if err := o.RevokeServiceToken(ctx, app, cc.JTI, ActorOf(admin)); err != nil {
		t.Fatal(err)
	}
	read()
	if revoked != 1 {
		t.Errorf("%d token.revoked for one token revoked twice, want 1", revoked)
	}
}

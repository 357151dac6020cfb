package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/events"
)

// state is what a server served before a restart, to compare after it.
type state struct {
	apps    []appView
	admin   appView
	kids    []string
	live    []string // tokens active before
	revoked []string // tokens revoked before
	app     appView  // an active app and its secret
	off     appView  // a deactivated app
	gone    appView  // a deleted app
	last    appView  // the app created last, right before the stop
}

// populate makes some of everything on s as a: apps in each state, live
// and revoked tokens, a key rotation.
func populate(t *testing.T, a *api) state {
	t.Helper()
	var st state
	st.app = a.createApp(map[string]any{"name": "survivor", "token_endpoint_auth_method": "client_secret_post",
		"access_token_ttl_seconds": 900, "requested_scopes": []string{"webhooks:read"}, "metadata": map[string]any{"k": "v"}})
	if r := a.call(http.MethodPatch, "/v1/platform/apps/"+st.app.ID, map[string]any{"name": "Survivor"}, "If-Match", `"1"`); r.Status != http.StatusOK {
		t.Fatalf("patch = %s", r)
	}
	st.off = a.createApp(map[string]any{"name": "switched-off"})
	if r := a.call(http.MethodPatch, "/v1/platform/apps/"+st.off.ID, map[string]any{"active": false}); r.Status != http.StatusOK {
		t.Fatalf("deactivate = %s", r)
	}
	st.gone = a.createApp(map[string]any{"name": "deleted"})
	if r := a.call(http.MethodDelete, "/v1/platform/apps/"+st.gone.ID, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete = %s", r)
	}
	if r := a.call(http.MethodPost, "/v1/platform/keys/rotate", nil); r.Status != http.StatusAccepted {
		t.Fatalf("rotate = %s", r)
	}
	st.live = []string{a.token, a.mint(appCreds(st.app)).AccessToken}
	rev := a.mint(appCreds(st.app)).AccessToken
	if r := (caller{id: st.app.ClientID, secret: st.app.ClientSecret}).post(a, "/v1/oauth/revoke", url.Values{"token": {rev}}); r.Status != http.StatusOK {
		t.Fatalf("revoke = %s", r)
	}
	st.revoked = []string{rev}
	st.last = a.createApp(map[string]any{"name": "created-last"})
	st.apps = a.listAll(500)
	st.admin = a.adminApp()
	st.kids = kids(a.jwks())
	return st
}

// check compares what s serves now with st, through fresh clients but
// the tokens minted before.
func (st state) check(t *testing.T, a *api, adminCreds credentials) {
	t.Helper()
	a = a.as(st.live[0]) // the admin token of before
	a.admin = adminCreds
	if got := a.listAll(2); !sameJSON(t, mustJSON(t, got), st.apps) {
		t.Errorf("apps changed across the restart:\nbefore %s\nafter  %s", mustJSON(t, st.apps), mustJSON(t, got))
	}
	if got := a.adminApp(); got.ID != st.admin.ID || got.Version != st.admin.Version {
		t.Errorf("admin app %s v%d, was %s v%d: bootstrapped again?", got.ID, got.Version, st.admin.ID, st.admin.Version)
	}
	if got := kids(a.jwks()); !slices.Equal(got, st.kids) {
		t.Errorf("JWKS %v, was %v", got, st.kids)
	}
	for _, tok := range st.live {
		a.verifyJOSE(tok)
		verifyOIDC(t, a, tok)
		if !a.active(tok) {
			t.Errorf("a token minted before the restart is inactive")
		}
	}
	for _, tok := range st.revoked {
		if a.active(tok) {
			t.Errorf("a token revoked before the restart is active again")
		}
	}
	a.mint(adminCreds)
	fresh := a.mint(appCreds(st.app)).AccessToken
	if h, _ := a.verifyJOSE(fresh); h.KeyID == "" {
		t.Error("no kid")
	}
	for _, gone := range []appView{st.off, st.gone} {
		_, err := a.tryMint(appCreds(gone))
		wantTokenError(t, err, http.StatusUnauthorized, "invalid_client")
	}
	// Name claims survived: a taken name is still taken, a freed one free.
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps", map[string]any{"name": "SURVIVOR"}), http.StatusConflict, "conflict")
	a.createApp(map[string]any{"name": "deleted"})
}

// TestRestartGraceful: SIGTERM stops the server with exit status 0; a new
// process on the same data directory serves the same apps, secrets, keys
// and token states, and does not bootstrap again. Neither the log nor the
// server's output holds a secret or a token in the clear.
func TestRestartGraceful(t *testing.T) {
	t.Parallel()
	s := startServer(t, withEnv("LOG_LEVEL", "debug"))
	a := adminAPI(t, s)
	st := populate(t, a)
	if !strings.Contains(s.stdout(), "Bootstrapped tenant") {
		t.Errorf("the first start does not say it bootstrapped:\n%s", s.stdout())
	}
	if err := s.stop(); err != nil {
		t.Fatalf("after SIGTERM: %v, want exit status 0", err)
	}
	if !strings.Contains(s.proc.stderr.String(), `"msg":"gatehouse stopped"`) {
		t.Errorf("no clean stop in the log")
	}
	wantNoSecrets(t, s, map[string]string{"admin secret": adminSecret, "app secret": st.app.ClientSecret,
		"deleted app's secret": st.gone.ClientSecret, "admin token": st.live[0], "app token": st.live[1]})
	log := readLog(t, s.Dir)
	wantOneBootstrap(t, log)
	wantMintEvents(t, log, append(slices.Clone(st.live), st.revoked...))

	s.restart(t)
	if out := s.stdout(); strings.Contains(out, "Bootstrapped") || strings.Contains(out, "client_secret") {
		t.Errorf("the second start printed bootstrap credentials:\n%s", out)
	}
	st.check(t, newAPI(t, s, ""), adminCreds())
	if err := s.stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	wantOneBootstrap(t, readLog(t, s.Dir))
}

// TestRestartAfterKill: SIGKILL loses nothing that was acknowledged: the
// app created just before the kill, the revocation, the tokens; the
// generated bootstrap credentials, printed once on the first start, keep
// working and are never printed again.
func TestRestartAfterKill(t *testing.T) {
	t.Parallel()
	s := startServer(t, withGeneratedAdmin())
	m := regexp.MustCompile(`client_id:\s+(\S+)\s+client_secret:\s+(\S+)`).FindStringSubmatch(s.stdout())
	if m == nil {
		t.Fatalf("the first start printed no generated credentials:\n%s", s.stdout())
	}
	admin := credentials{m[1], m[2], oauth2.AuthStyleInHeader}
	a := newAPI(t, s, "")
	a.admin = admin
	a.token = a.mint(admin).AccessToken
	st := populate(t, a)

	s.kill()
	var exit *exec.ExitError
	if err := s.proc.err; !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the process ended with %v, want killed by SIGKILL", err)
	}
	s.restart(t)
	if out := s.stdout(); strings.Contains(out, admin.secret) || strings.Contains(out, "Bootstrapped") {
		t.Errorf("the start after the kill printed bootstrap credentials again:\n%s", out)
	}
	st.check(t, newAPI(t, s, ""), admin)

	s.kill()
	s.restart(t) // a second crash, on a log that was recovered once
	st.apps = newAPI(t, s, st.live[0]).listAll(500)
	if !slices.ContainsFunc(st.apps, func(app appView) bool { return app.Name == "deleted" }) {
		t.Errorf("the app created after the first restart is gone after the second")
	}
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	log := readLog(t, s.Dir)
	wantOneBootstrap(t, log)
	wantMintEvents(t, log, append(slices.Clone(st.live), st.revoked...))
}

// wantNoSecrets fails if a file under the data directory, or the output
// of any of s's processes, holds one of secrets (DESIGN.md invariant 3).
func wantNoSecrets(t *testing.T, s *server, secrets map[string]string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(s.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for what, secret := range secrets {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s is in the clear in %s", what, path)
			}
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("scan %s: %d files, %v", s.Dir, files, err)
	}
	logs := s.logs()
	for what, secret := range secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("%s is in the server's output", what)
		}
	}
}

// readLog reads every event of the log in dir, with the server stopped.
func readLog(t *testing.T, dir string) []events.Event {
	t.Helper()
	emb, err := events.StartEmbedded(events.EmbeddedConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	nc, err := emb.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	log, err := events.Open(ctx(t), nc, events.Config{Prefix: "gh"})
	if err != nil {
		t.Fatal(err)
	}
	var all []events.Event
	for _, stream := range events.Streams {
		last, err := log.LastSeq(ctx(t), stream)
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			continue
		}
		c, cancel := context.WithCancel(ctx(t))
		err = log.Follow(c, stream, 0, func(_ context.Context, e events.Event) error {
			all = append(all, e)
			if e.Seq >= last && !e.More {
				cancel()
			}
			return nil
		})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("follow %s: %v", stream, err)
		}
	}
	return all
}

func wantOneBootstrap(t *testing.T, log []events.Event) {
	t.Helper()
	n := 0
	for _, e := range log {
		if e.Type == "system.bootstrapped" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the log holds %d system.bootstrapped events, want 1", n)
	}
}

// wantMintEvents: every token has its token.minted event, and no event
// holds a token in the clear.
func wantMintEvents(t *testing.T, log []events.Event, tokens []string) {
	t.Helper()
	minted := map[string]bool{}
	for _, e := range log {
		for _, tok := range tokens {
			if bytes.Contains(e.Data, []byte(tok)) {
				t.Errorf("event %s holds a token", e.Type)
			}
		}
		if e.Type == "token.minted" {
			var m struct {
				JTI string `json:"jti"`
			}
			_ = json.Unmarshal(e.Data, &m)
			minted[m.JTI] = true
		}
	}
	for _, tok := range tokens {
		var c struct {
			JTI string `json:"jti"`
		}
		_ = json.Unmarshal(mustDecodeSegment(t, strings.Split(tok, ".")[1]), &c)
		if !minted[c.JTI] {
			t.Errorf("token %s has no token.minted event", c.JTI)
		}
	}
}

func mustDecodeSegment(t *testing.T, seg string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

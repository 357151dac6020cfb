package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
	"github.com/gatehouse/gatehouse/internal/quietport"
	"github.com/gatehouse/gatehouse/projections/postgres/pgtest"
)

// cluster is production mode on one machine: Gatehouse processes sharing
// one NATS JetStream server (run by this test process on a loopback port,
// so that the test can take it away and bring it back) and one fresh
// PostgreSQL schema, with one master key and one issuer (the address of a
// load balancer in front of them).
type cluster struct {
	t      *testing.T
	nodes  []*server
	pool   *pgxpool.Pool
	schema string

	natsDir, natsAddr string
	nats              *events.Embedded
}

// startCluster starts NATS and n Gatehouse instances, all at once.
func startCluster(t *testing.T, n int, opts ...option) *cluster {
	t.Helper()
	c := &cluster{t: t, natsDir: workDir(t, "nats")}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	c.natsAddr = net.JoinHostPort("127.0.0.1", port)
	c.startNATS()
	t.Cleanup(func() { c.stopNATS() })
	return c.startNodes(n, "nats://"+c.natsAddr, opts...)
}

// startNodes starts n Gatehouse instances on the NATS at natsURL, a fresh
// PostgreSQL schema and a fresh stream prefix.
func (c *cluster) startNodes(n int, natsURL string, opts ...option) *cluster {
	t := c.t
	t.Helper()
	c.pool = pgtest.Pool(t, "")
	c.schema = pgtest.Schema(t, c.pool)

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	leaks.add(base64.StdEncoding.EncodeToString(key))
	opts = append([]option{
		withEnv("NATS_URL", natsURL),
		withEnv("STREAM_PREFIX", natstest.Prefix(t)),
		withEnv("DATABASE_URL", pgtest.URL()),
		withEnv("DATABASE_SCHEMA", c.schema),
		withEnv("MASTER_KEY", base64.StdEncoding.EncodeToString(key)),
		withEnv("ISSUER", "https://gatehouse.cluster.test"),
	}, opts...)
	c.nodes = make([]*server, n)
	var wg sync.WaitGroup
	for i := range n { // all at once: they migrate, bootstrap and elect a writer together
		wg.Go(func() { c.nodes[i] = c.start(opts...) })
	}
	wg.Wait()
	for i, s := range c.nodes {
		if s == nil {
			t.Fatalf("instance %d did not start", i)
		}
	}
	return c
}

// start starts one instance; like startServer, but its log lives in the
// cluster's NATS directory, which the leak watch searches instead. Like
// launch, it tries another free port when another process took the one it
// picked meanwhile.
func (c *cluster) start(opts ...option) *server {
	t := c.t
	for attempt := 1; ; attempt++ {
		s, err := newServer(binary(t), workDir(t, "node"), opts...)
		if err != nil {
			t.Error(err)
			return nil
		}
		s.name, s.logDir = t.Name(), c.natsDir
		watch(s)
		t.Cleanup(func() {
			s.kill()
			if t.Failed() {
				t.Logf("instance %s logs:\n%s", s.URL, tail(s.logs(), 20<<10))
			}
			if s.raced() {
				t.Errorf("instance %s reported a data race:\n%s", s.URL, s.logs())
			}
		})
		err = s.start()
		if err == nil {
			return s
		}
		if attempt < 3 && strings.Contains(err.Error(), "address already in use") {
			continue
		}
		t.Error(err)
		return nil
	}
}

func (c *cluster) startNATS() {
	c.t.Helper()
	emb, err := events.StartEmbedded(events.EmbeddedConfig{Dir: c.natsDir, Listen: c.natsAddr})
	if err != nil {
		c.t.Fatalf("start NATS on %s: %v", c.natsAddr, err)
	}
	c.nats = emb
}

func (c *cluster) stopNATS() {
	if c.nats != nil {
		c.nats.Shutdown()
		c.nats = nil
	}
}

// api is the bootstrap admin's API on instance i.
func (c *cluster) api(i int, token string) *api {
	a := newAPI(c.t, c.nodes[i], token)
	return a
}

// TestClusterReadYourWrites: what is written through one instance is read
// at once through another: an app just created, its first token, that
// token's introspection; a revocation on one is refused by the other
// within a second.
func TestClusterReadYourWrites(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2)
	a0 := adminAPI(t, c.nodes[0])
	a1 := c.api(1, a0.token) // a token of one instance is valid on the other

	writers := 0
	for i := range c.nodes {
		if m := c.api(i, "").call(http.MethodGet, "/metrics", nil); strings.Contains(string(m.Body), "\ngatehouse_projections_writer 1\n") {
			writers++
		}
	}
	if writers != 1 {
		t.Errorf("%d instances say they write the projections (gatehouse_projections_writer), want 1", writers)
	}
	for i := range 5 {
		app := a0.createApp(map[string]any{"name": uniqueName(t, fmt.Sprint(i))})
		if r := a1.call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil); r.Status != http.StatusOK {
			t.Fatalf("GET on instance 1 of the app just created on instance 0: %s", r)
		}
		tok := a1.mint(appCreds(app)) // the client's first token, on the other instance
		if !a0.active(tok.AccessToken) {
			t.Fatalf("a token minted on instance 1 is not active on instance 0")
		}

		// Revoked on one, refused by the other once the writer applied it
		// (well under a second when idle; the follower's fallback poll is
		// itself 1 s): the deadline is generous, the figure reported.
		if r := a1.form("/v1/oauth/revoke", map[string][]string{"token": {tok.AccessToken}}, app.ClientID, app.ClientSecret); r.Status != http.StatusOK {
			t.Fatalf("revoke on instance 1: %s", r)
		}
		revoked := time.Now()
		for a0.active(tok.AccessToken) {
			if time.Since(revoked) > 30*time.Second {
				t.Fatalf("instance 0 still accepts a token revoked on instance 1 %s ago", time.Since(revoked))
			}
			time.Sleep(10 * time.Millisecond) // poll interval
		}
		t.Logf("a revocation on instance 1 was refused by instance 0 after %s", time.Since(revoked))
	}
	c.wantNoSecretsInSchema()
}

// TestClusterWebhooksOnce: two instances dispatch; 50 events published
// through both are each delivered exactly once.
func TestClusterWebhooksOnce(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"))
	a0 := adminAPI(t, c.nodes[0])
	a1 := c.api(1, a0.token)
	typ, _ := webhookTenant(t, a0)
	rcv := newReceiver(t)
	hook := a1.subscribe(rcv.srv.URL, typ)
	rcv.setSecrets(hook.Secret)

	ids := make([]string, 50)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() { ids[i] = []*api{a0, a1}[i%2].in(t).publish(typ, map[string]any{"n": i}) })
	}
	wg.Wait()
	waitFor(t, 30*time.Second, "50 deliveries recorded as delivered", func() bool {
		return len(a0.deliveries(hook.ID, "delivered")) == 50
	})
	got := rcv.received()
	perID := map[string]int{}
	events := map[string]bool{}
	for _, g := range got {
		perID[g.ID]++
		if !slices.Contains(g.Verified, true) {
			t.Errorf("delivery %s failed verification", g.ID)
		}
	}
	for _, d := range a1.deliveries(hook.ID, "") {
		events[d.EventID] = true
		if len(d.Attempts) != 1 {
			t.Errorf("delivery %s has %d attempts, want 1", d.ID, len(d.Attempts))
		}
		if perID[d.ID] != 1 {
			t.Errorf("delivery %s reached the receiver %d times, want once", d.ID, perID[d.ID])
		}
	}
	if len(got) != 50 || len(perID) != 50 {
		t.Errorf("the receiver got %d requests for %d deliveries, want 50 and 50", len(got), len(perID))
	}
	for _, id := range ids {
		if !events[id] {
			t.Errorf("event %s has no delivery", id)
		}
	}

	// A subscription acknowledged by one instance receives an event
	// published through the other right after: the event carries the
	// control stream's position read after its publish began.
	for i := range 10 {
		h := a1.subscribe(rcv.srv.URL, typ)
		id := a0.publish(typ, map[string]any{"after_subscribe": i})
		waitFor(t, 30*time.Second, fmt.Sprintf("the delivery of event %d to the webhook created just before it on the other instance", i), func() bool {
			return slices.ContainsFunc(a0.deliveries(h.ID, ""), func(d deliveryView) bool { return d.EventID == id })
		})
	}
}

// TestClusterKill9UnderLoad: apps are created through three instances;
// one is killed with SIGKILL in the middle. Every creation that was
// answered 201 is served by the others, and by the killed instance once
// it restarts, which serves the same list as the others.
func TestClusterKill9UnderLoad(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	token := adminAPI(t, c.nodes[0]).token
	var (
		mu    sync.Mutex
		acked []string
		count atomic.Int64
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	for w := range 6 {
		node := w % 3
		wg.Go(func() {
			hc := &http.Client{Timeout: 10 * time.Second}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				a := c.api(node, token)
				a.hc = hc
				r, err := a.try(http.MethodPost, "/v1/platform/apps", map[string]any{"name": fmt.Sprintf("load-%d-%d", w, n)})
				if err != nil || r.Status != http.StatusCreated {
					if node == 0 {
						continue // the killed instance: refused connections, cut answers
					}
					t.Errorf("create on instance %d: %v %s", node, err, r)
					return
				}
				var app appView
				r.decode(t, &app)
				mu.Lock()
				acked = append(acked, app.ID)
				mu.Unlock()
				count.Add(1)
			}
		})
	}
	waitFor(t, 60*time.Second, "60 acknowledged creations", func() bool { return count.Load() >= 60 })
	c.nodes[0].kill()
	before := count.Load()
	waitFor(t, 60*time.Second, "60 more creations on the surviving instances", func() bool { return count.Load() >= before+60 })
	close(stop)
	wg.Wait()

	a1 := c.api(1, token)
	for _, id := range acked {
		if r := a1.call(http.MethodGet, "/v1/platform/apps/"+id, nil); r.Status != http.StatusOK {
			t.Fatalf("acknowledged app %s is not served by instance 1: %s", id, r)
		}
	}
	c.nodes[0].restart(t)
	a0 := c.api(0, token)
	for _, id := range acked {
		if r := a0.call(http.MethodGet, "/v1/platform/apps/"+id, nil); r.Status != http.StatusOK {
			t.Fatalf("acknowledged app %s is not served by the restarted instance: %s", id, r)
		}
	}
	l0, l2 := names(a0.listAll(200)), names(c.api(2, token).listAll(200))
	if !slices.Equal(l0, l2) {
		t.Fatalf("the restarted instance lists %d apps, instance 2 lists %d", len(l0), len(l2))
	}
	if len(l0) < len(acked) {
		t.Fatalf("%d apps listed, %d acknowledged", len(l0), len(acked))
	}
}

func names(apps []appView) []string {
	out := make([]string, len(apps))
	for i, a := range apps {
		out[i] = a.ID
	}
	return out
}

// TestClusterNATSOutage: while NATS is away, writes answer 503
// unavailable and reads of what was written go on; nothing acknowledged
// is lost, and when NATS is back the instances write again by themselves.
func TestClusterNATSOutage(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2)
	a0 := adminAPI(t, c.nodes[0])
	a1 := c.api(1, a0.token)
	before := a0.createApp(map[string]any{"name": uniqueName(t, "before")})

	c.stopNATS()
	r := a1.call(http.MethodPost, "/v1/platform/apps", map[string]any{"name": uniqueName(t, "during")})
	wantProblem(t, r, http.StatusServiceUnavailable, "unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	_, err := a0.tryMint(adminCreds())
	wantTokenError(t, err, http.StatusServiceUnavailable, "temporarily_unavailable")
	if r := a1.call(http.MethodGet, "/v1/platform/apps/"+before.ID, nil); r.Status != http.StatusOK {
		t.Errorf("read during the outage: %s", r)
	}

	c.startNATS()
	var after appView
	waitFor(t, 30*time.Second, "writes to work again on both instances", func() bool {
		for _, a := range []*api{a0, a1} {
			r, err := a.try(http.MethodPost, "/v1/platform/apps", map[string]any{"name": uniqueName(t, "after")})
			if err != nil || r.Status != http.StatusCreated {
				return false
			}
			r.decode(t, &after)
		}
		return true
	})
	if r := a0.call(http.MethodGet, "/v1/platform/apps/"+after.ID, nil); r.Status != http.StatusOK {
		t.Fatalf("read on instance 0 of an app created on 1 after the outage: %s", r)
	}
	tok := a1.mint(appCreds(after))
	if !a0.active(tok.AccessToken) {
		t.Fatal("a token minted after the outage is not active on the other instance")
	}
	list := a0.listAll(200)
	var during int
	for _, app := range list {
		if app.ID == before.ID {
			before.ID = ""
		}
		if strings.Contains(app.Name, "-during-") {
			during++
		}
	}
	if before.ID != "" {
		t.Error("the app acknowledged before the outage is gone")
	}
	if during != 0 {
		t.Errorf("%d apps whose creation answered 503 exist", during)
	}
	c.wantNoSecretsInSchema()
}

// wantNoSecretsInSchema fails if a document of the cluster's PostgreSQL
// schema holds a secret the run recorded (DESIGN.md invariant 3).
func (c *cluster) wantNoSecretsInSchema() {
	t := c.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := c.pool.Query(ctx, fmt.Sprintf(`SELECT kind, id, body FROM %q.documents`, c.schema))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	secrets := leaks.all()
	n := 0
	for rows.Next() {
		var kind, id string
		var body []byte
		if err := rows.Scan(&kind, &id, &body); err != nil {
			t.Fatal(err)
		}
		n++
		for _, s := range secrets {
			if len(s) > 0 && bytes.Contains(body, []byte(s)) {
				t.Errorf("a recorded secret (%s…) is in the clear in document %s/%s", s[:6], kind, id)
			}
		}
	}
	if err := rows.Err(); err != nil || n == 0 {
		t.Fatalf("read the schema's documents: %d rows, %v", n, err)
	}
}

// TestClusterRebuild: `gatehouse projections rebuild` replays the log into
// a fresh schema and swaps it in while two instances serve reads and
// writes: no read fails meanwhile, every acknowledged write is there
// afterwards, and writing goes on.
func TestClusterRebuild(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2)
	a0 := adminAPI(t, c.nodes[0])
	a1 := c.api(1, a0.token)
	first := a0.createApp(map[string]any{"name": uniqueName(t, "first")})
	for i := range 30 {
		a1.createApp(map[string]any{"name": uniqueName(t, fmt.Sprint(i))})
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	var mu sync.Mutex
	var acked []string
	for i := range 2 {
		wg.Go(func() { // readers on both instances
			a := c.api(i, a0.token).in(t)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if r := a.call(http.MethodGet, "/v1/platform/apps/"+first.ID, nil); r.Status != http.StatusOK {
					t.Errorf("read on instance %d during the rebuild: %s", i, r)
					return
				}
				if r := a.call(http.MethodGet, "/v1/platform/apps?limit=50", nil); r.Status != http.StatusOK {
					t.Errorf("list on instance %d during the rebuild: %s", i, r)
					return
				}
				reads.Add(1)
			}
		})
	}
	wg.Go(func() { // a writer
		a := a1.in(t)
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			app := a.createApp(map[string]any{"name": uniqueName(t, fmt.Sprintf("during-%d", n))})
			mu.Lock()
			acked = append(acked, app.ID)
			mu.Unlock()
		}
	})

	cmd := exec.Command(binary(t), "projections", "rebuild")
	for _, kv := range c.nodes[0].env {
		if !strings.HasPrefix(kv, "GATEHOUSE_DATA_DIR=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GATEHOUSE_DATA_DIR="+workDir(t, "rebuild"))
	out, err := cmd.CombinedOutput()
	close(stop)
	wg.Wait()
	if err != nil || !strings.Contains(string(out), "swapped in") || !strings.Contains(string(out), "events/s") {
		t.Fatalf("projections rebuild: %v\n%s", err, out)
	}
	t.Logf("projections rebuild:\n%s", out)
	if reads.Load() == 0 {
		t.Fatal("no read ran during the rebuild")
	}
	var n int
	if err := c.pool.QueryRow(t.Context(), "SELECT count(*) FROM pg_namespace WHERE nspname LIKE $1", c.schema+"\\_%").Scan(&n); err != nil || n != 0 {
		t.Errorf("schemas left beside %s after the rebuild: %d (%v)", c.schema, n, err)
	}
	for _, id := range acked {
		for i, a := range []*api{a0, a1} {
			if r := a.call(http.MethodGet, "/v1/platform/apps/"+id, nil); r.Status != http.StatusOK {
				t.Fatalf("app %s acknowledged during the rebuild, on instance %d: %s", id, i, r)
			}
		}
	}
	after := a0.createApp(map[string]any{"name": uniqueName(t, "after")})
	if r := a1.call(http.MethodGet, "/v1/platform/apps/"+after.ID, nil); r.Status != http.StatusOK {
		t.Fatalf("an app created after the rebuild, read on the other instance: %s", r)
	}
	if !a1.active(a1.mint(appCreds(after)).AccessToken) {
		t.Fatal("a token of an app created after the rebuild is not active")
	}
}

// TestClusterNATSNodeLoss: on a 3-node NATS cluster with 3 replicas per
// stream, losing one NATS server loses nothing acknowledged and the
// instances go on writing (after the streams elect new leaders), and
// the node rejoins.
func TestClusterNATSNodeLoss(t *testing.T) {
	t.Parallel()
	dir := workDir(t, "nats-cluster")
	nc := natstest.StartCluster(t, 3, dir)
	c := &cluster{t: t, natsDir: dir + "/n1"}
	c.startNodes(2, nc.URLs(), withEnv("NATS_REPLICAS", "3"))
	a0 := adminAPI(t, c.nodes[0])
	a1 := c.api(1, a0.token)
	var acked []appView
	for i := range 10 {
		acked = append(acked, []*api{a0, a1}[i%2].createApp(map[string]any{"name": uniqueName(t, fmt.Sprint(i))}))
	}
	wantReplicas(t, c.nodes[0], nc.URLs(), 3)

	for _, lost := range []int{0, 2} {
		nc.Stop(lost)
		for i, a := range []*api{a0, a1} {
			var app appView
			waitFor(t, 30*time.Second, fmt.Sprintf("a write on instance %d with NATS node %d down", i, lost+1), func() bool {
				r, err := a.try(http.MethodPost, "/v1/platform/apps", map[string]any{"name": uniqueName(t, "node-down")})
				if err != nil || r.Status != http.StatusCreated {
					if err == nil && r.Status != http.StatusServiceUnavailable {
						t.Fatalf("a write while a NATS node is down: %s (want 201, or 503 while the streams elect a leader)", r)
					}
					return false
				}
				r.decode(t, &app)
				return true
			})
			acked = append(acked, app)
			var tok *oauth2.Token
			waitFor(t, 30*time.Second, fmt.Sprintf("a mint on instance %d with NATS node %d down", i, lost+1), func() bool {
				var err error
				if tok, err = a.tryMint(appCreds(app)); err != nil {
					var re *oauth2.RetrieveError
					if !errors.As(err, &re) || re.Response.StatusCode != http.StatusServiceUnavailable {
						t.Fatalf("a mint while a NATS node is down: %v (want 200, or 503 while the streams elect a leader)", err)
					}
					return false
				}
				return true
			})
			if ![]*api{a1, a0}[i].active(tok.AccessToken) {
				t.Fatalf("a token minted on instance %d with a NATS node down is not active on the other", i)
			}
		}
		nc.Start(lost)
	}
	for _, app := range acked {
		for i, a := range []*api{a0, a1} {
			if r := a.call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil); r.Status != http.StatusOK {
				t.Fatalf("acknowledged app %s on instance %d: %s", app.ID, i, r)
			}
		}
	}
}

// wantReplicas checks that the streams of s have n replicas.
func wantReplicas(t *testing.T, s *server, urls string, n int) {
	t.Helper()
	conn, err := nats.Connect(urls)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	js, err := jetstream.New(conn)
	if err != nil {
		t.Fatal(err)
	}
	prefix := strings.ToUpper(streamPrefix(s))
	found := 0
	for name := range js.StreamNames(t.Context()).Name() {
		if !strings.HasPrefix(name, prefix+"_") {
			continue
		}
		found++
		st, err := js.Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if r := st.CachedInfo().Config.Replicas; r != n {
			t.Errorf("stream %s has %d replicas, want %d", name, r, n)
		}
	}
	if found < 2 {
		t.Fatalf("%d streams named %s_*, want the control and high-volume streams", found, prefix)
	}
}

// TestPostgresOutage: an instance whose PostgreSQL goes away answers 503
// unavailable at once, rather than 500 or a hang, to reads and to writes
// (which read before they append, so nothing is written); when the
// database is back it serves everything acknowledged without a restart.
// (A write whose event is appended but cannot be applied answers 503
// after the projector's WaitTimeout: see projections.)
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	// The database of the run (GATEHOUSE_TEST_DATABASE_URL), behind a
	// proxy the test can cut; no database fails it, or skips it with
	// GATEHOUSE_SKIP_SERVICES=1 (pgtest.Pool).
	pgtest.Pool(t, "")
	cfg, err := pgconn.ParseConfig(pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(pgtest.URL())
	if err != nil || u.Host == "" {
		t.Fatalf("the test database's URL must be a postgres:// URL with a host to proxy (%v)", err)
	}
	proxy := newTCPProxy(t, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	u.Host = proxy.addr
	c := startCluster(t, 1, withEnv("DATABASE_URL", u.String()))
	a := adminAPI(t, c.nodes[0])
	before := a.createApp(map[string]any{"name": uniqueName(t, "before")})

	proxy.cut()
	r := a.call(http.MethodGet, "/v1/platform/apps/"+before.ID, nil)
	wantProblem(t, r, http.StatusServiceUnavailable, "unavailable")
	name := uniqueName(t, "during")
	r = a.call(http.MethodPost, "/v1/platform/apps", map[string]any{"name": name})
	wantProblem(t, r, http.StatusServiceUnavailable, "unavailable")
	_, err = a.tryMint(adminCreds())
	wantTokenError(t, err, http.StatusServiceUnavailable, "temporarily_unavailable")
	r = a.form("/v1/oauth/introspect", url.Values{"token": {a.token}}, adminID, adminSecret)
	if r.Status != http.StatusServiceUnavailable {
		t.Errorf("introspection with the database away: %s, want 503", r)
	}

	proxy.restore()
	waitFor(t, 30*time.Second, "reads to work again", func() bool {
		r, err := a.try(http.MethodGet, "/v1/platform/apps/"+before.ID, nil)
		return err == nil && r.Status == http.StatusOK
	})
	for _, app := range a.listAll(200) {
		if app.Name == name {
			t.Error("the app whose creation answered 503 exists")
		}
	}
	after := a.createApp(map[string]any{"name": uniqueName(t, "after")})
	if !a.active(a.mint(appCreds(after)).AccessToken) {
		t.Fatal("a token minted after the outage is not active")
	}
}

// tcpProxy forwards loopback connections to target until cut, which
// closes the listener and every connection; restore listens again on the
// same address.
type tcpProxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target}
	ln, err := quietport.Listen() // restore listens on this port again
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", p.target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln {
				// cut ran while this connection was being dialled: it must
				// not outlive the cut (a pool's background connect that
				// survived served reads "with the database away").
				p.mu.Unlock()
				in.Close()
				out.Close()
				return
			}
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
}

func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *tcpProxy) restore() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

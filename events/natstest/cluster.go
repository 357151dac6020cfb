package natstest

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gatehouse/gatehouse/internal/quietport"
)

// Cluster is a NATS JetStream cluster of servers in this test process, on
// loopback ports, each syncing its store before acknowledging (as
// production servers should). A node can be stopped and started again on
// the same ports and store, to test the loss of a server.
type Cluster struct {
	t     testing.TB
	opts  []*server.Options
	nodes []*server.Server
}

// StartCluster starts n clustered servers with JetStream, node i's store
// in dir/n<i+1> (dir empty: a t.TempDir), and waits until JetStream
// answers; they shut down when the test ends.
func StartCluster(t testing.TB, n int, dir string) *Cluster {
	t.Helper()
	clientPorts, routePorts := freePorts(t, n), freePorts(t, n)
	var routes []string
	for _, p := range routePorts {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	c := &Cluster{t: t, nodes: make([]*server.Server, n)}
	base := dir
	if base == "" {
		base = t.TempDir()
	}
	for i := range n {
		c.opts = append(c.opts, &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1", Port: clientPorts[i],
			JetStream: true, StoreDir: fmt.Sprintf("%s/n%d", base, i+1),
			SyncAlways: true, SyncInterval: 2 * time.Minute,
			NoSigs: true, NoLog: true, MaxPayload: 8 << 20, JetStreamMaxMemory: 256 << 20,
			JetStreamLimits: server.JSLimitOpts{MaxBatchInflightPerStream: 1000, MaxBatchInflightTotal: 4000},
			Cluster:         server.ClusterOpts{Name: "gatehouse-test", Host: "127.0.0.1", Port: routePorts[i]},
			Routes:          server.RoutesFromStr(strings.Join(routes, ",")),
		})
	}
	for i := range n {
		c.Start(i)
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.Stop(i)
		}
	})
	c.waitJetStream()
	return c
}

// URLs is the client URLs of every node, comma-separated.
func (c *Cluster) URLs() string {
	var urls []string
	for _, o := range c.opts {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", o.Port))
	}
	return strings.Join(urls, ",")
}

// Start starts node i (again) on its ports and store.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	if c.nodes[i] != nil {
		return
	}
	o := *c.opts[i]
	srv, err := server.NewServer(&o)
	if err != nil {
		c.t.Fatalf("NATS node %d: %v", i+1, err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(StartTimeout) {
		srv.Shutdown()
		c.t.Fatalf("NATS node %d not ready within %s%s", i+1, StartTimeout, portsTaken(o.Port, o.Cluster.Port))
	}
	c.nodes[i] = srv
}

// Stop shuts node i down (its store stays).
func (c *Cluster) Stop(i int) {
	if srv := c.nodes[i]; srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		c.nodes[i] = nil
	}
}

// waitJetStream waits until the cluster has elected its JetStream meta
// leader: an account info request answers.
func (c *Cluster) waitJetStream() {
	c.t.Helper()
	nc, err := nats.Connect(c.URLs())
	if err != nil {
		c.t.Fatalf("connect to the NATS cluster: %v", err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		c.t.Fatal(err)
	}
	deadline := time.Now().Add(StartTimeout)
	for {
		_, err := js.AccountInfo()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("JetStream of the NATS cluster not ready within %s: %v", StartTimeout, err)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

// portsTaken names those of ports something else listens on or holds, for
// the message of a node that did not start.
func portsTaken(ports ...int) string {
	var taken []string
	for _, p := range ports {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			taken = append(taken, fmt.Sprintf("%d (%v)", p, err))
			continue
		}
		ln.Close()
	}
	if len(taken) == 0 {
		return ""
	}
	return "; ports taken: " + strings.Join(taken, ", ")
}

// freePorts returns n loopback ports nothing listens on now, from below
// the kernel's ephemeral range (quietport): a node stopped and started
// again must find its ports free (CI on 0567548: "NATS node 2 not ready
// within 30s").
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := quietport.Listen()
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// Package natstest starts NATS servers for tests: the embedded server of
// package events, and a separate nats-server process built from the version
// of github.com/nats-io/nats-server/v2 that go.mod pins. The separate process
// is how tests exercise "an external NATS server": a real TCP connection to
// a server this test binary does not contain, which can be killed with
// SIGKILL and restarted on the same store.
package natstest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
)

// serverModule is the module the nats-server binary is built from.
const serverModule = "github.com/nats-io/nats-server/v2"

// StartTimeout bounds how long a server may take to become ready.
const StartTimeout = 30 * time.Second

// Embedded starts the embedded server of package events (SyncAlways) with its
// store in a fresh t.TempDir and shuts it down when the test ends.
func Embedded(t testing.TB) *events.Embedded {
	t.Helper()
	e, err := events.StartEmbedded(events.EmbeddedConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("start embedded NATS: %v", err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// Connect opens an in-process connection to e, closed when the test ends.
func Connect(t testing.TB, e *events.Embedded) *nats.Conn {
	t.Helper()
	nc, err := e.Connect()
	if err != nil {
		t.Fatalf("connect to embedded NATS: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Dial connects to the server at url over TCP, closed when the test ends.
func Dial(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name("gatehouse-test"), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Open opens a JetStream log on nc with a fresh Prefix, so the log is empty
// and no other test sees its events.
func Open(t testing.TB, nc *nats.Conn) *events.JetStream {
	t.Helper()
	l, err := events.Open(t.Context(), nc, events.Config{Prefix: Prefix(t)})
	if err != nil {
		t.Fatalf("open log: %v", err)
	}
	return l
}

// Prefix returns a fresh, unique stream prefix: "t" and 16 lower-case hex
// digits.
func Prefix(t testing.TB) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random prefix: %v", err)
	}
	return "t" + hex.EncodeToString(b[:])
}

// StartServerProcess runs nats-server as a separate process with JetStream,
// its store in dir/jetstream, `sync_interval: always` and a free loopback
// port, and waits until it accepts connections. jetstream lines are added to
// the jetstream block of the configuration, e.g.
// "limits { batch { max_inflight_per_stream: 1 } }". stop kills the process with SIGKILL
// (no clean shutdown: what is acknowledged must already be on disk) and
// waits for it to exit; it runs when the test ends too, and may be called
// more than once. Starting again on the same dir recovers the store.
func StartServerProcess(t testing.TB, dir string, jetstream ...string) (url string, stop func()) {
	t.Helper()
	bin := ServerBinary(t)
	conf := filepath.Join(dir, "nats-server.conf")
	if err := os.WriteFile(conf, []byte(serverConfig(dir, jetstream)), 0o600); err != nil {
		t.Fatalf("write nats-server config: %v", err)
	}
	cmd := exec.Command(bin, "-c", conf)
	logs := &syncbuf.Buffer{}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("nats-server stderr: %v", err)
	}
	cmd.Stdout = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nats-server: %v", err)
	}
	stop = stopper(cmd)
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("nats-server log (%s):\n%s", dir, logs.String())
		}
	})
	url, err = waitReady(stderr, logs, StartTimeout)
	if err != nil {
		stop()
		t.Fatalf("nats-server did not start: %v\n%s", err, logs.String())
	}
	return url, stop
}

func serverConfig(dir string, jetstream []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "server_name: gatehouse-test\nhost: 127.0.0.1\nport: -1\n")
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %q\n  sync_interval: always\n", dir) // the store is dir/jetstream
	for _, l := range jetstream {
		b.WriteString("  " + l + "\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// stopper returns an idempotent func that kills cmd with SIGKILL and reaps it.
func stopper(cmd *exec.Cmd) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
}

// waitReady reads the server's log until it reports its client port and
// readiness, then keeps copying the log into logs in the background.
func waitReady(stderr io.Reader, logs *syncbuf.Buffer, timeout time.Duration) (string, error) {
	type ready struct {
		url string
		err error
	}
	done := make(chan ready, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var url string
		for sc.Scan() {
			line := sc.Text()
			logs.WriteString(line + "\n")
			if _, addr, ok := strings.Cut(line, "Listening for client connections on "); ok {
				url = "nats://" + strings.TrimSpace(addr)
			}
			if strings.Contains(line, "Server is ready") {
				done <- ready{url: url}
				_, _ = io.Copy(logs, stderr)
				return
			}
		}
		done <- ready{err: errors.New("nats-server exited before it was ready")}
	}()
	select {
	case r := <-done:
		if r.err == nil && r.url == "" {
			r.err = errors.New("nats-server did not report its client port")
		}
		return r.url, r.err
	case <-time.After(timeout):
		return "", fmt.Errorf("not ready within %s", timeout)
	}
}

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// ServerBinary returns the path of a nats-server binary built from the
// module version go.mod pins. It is built once per version into the user
// cache directory (gatehouse-test/), by building to a temporary file and
// renaming it into place, so test binaries running in parallel never see a
// half-written file.
func ServerBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() { buildBin, buildErr = buildServer() })
	if buildErr != nil {
		t.Fatalf("build nats-server: %v", buildErr)
	}
	return buildBin
}

func buildServer() (string, error) {
	goBin, err := goCommand()
	if err != nil {
		return "", err
	}
	version, err := pinnedVersion(goBin)
	if err != nil {
		return "", err
	}
	dir, err := cacheDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, fmt.Sprintf("nats-server-%s-%s-%s", version, runtime.GOOS, runtime.GOARCH))
	if _, err := os.Stat(bin); err == nil && version != develVersion {
		return bin, nil
	}
	tmp, err := os.CreateTemp(dir, ".nats-server-*")
	if err != nil {
		return "", err
	}
	_ = tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command(goBin, "build", "-o", tmp.Name(), serverModule)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", serverModule, err, out)
	}
	return bin, os.Rename(tmp.Name(), bin)
}

func cacheDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "gatehouse-test")
	return dir, os.MkdirAll(dir, 0o755)
}

// develVersion names a server module replaced by a local directory, which
// is rebuilt by every test binary.
const develVersion = "devel"

// pinnedVersion asks the go command which version of the server module the
// current module requires (test binaries carry no dependency list).
func pinnedVersion(goBin string) (string, error) {
	out, err := exec.Command(goBin, "list", "-m", "-f",
		"{{with .Replace}}{{.Version}}{{else}}{{.Version}}{{end}}",
		serverModule).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%v: %s", err, ee.Stderr)
		}
		return "", fmt.Errorf("go list -m %s: %w", serverModule, err)
	}
	if v := strings.TrimSpace(string(out)); v != "" {
		return v, nil
	}
	return develVersion, nil
}

func goCommand() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go"), nil
	}
	return "", errors.New("the go command is not on PATH")
}

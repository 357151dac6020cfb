package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/quietport"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
)

// Fixed bootstrap credentials of every server these tests start, unless a
// test asks for generated ones (withGeneratedAdmin).
const (
	adminID     = "e2e-admin"
	adminSecret = "e2e admin+secret:with/odd%chars=0123456789~!"
)

// startTimeout bounds how long a server may take to answer /readyz 200,
// and stopTimeout how long it may take to exit after a signal.
const (
	startTimeout = 30 * time.Second
	stopTimeout  = 30 * time.Second
)

// work holds this run's build of gatehouse and the shared server's data.
var work string

// TestMain builds nothing up front: the first test that needs a server
// builds the binary (see binary). At the end it stops the shared server
// and fails the run if that server did not exit cleanly (with -race, a
// data race in the server makes it exit 66), then runs the leak watch over
// every server the run started (leak_test.go): their data directories and
// outputs live in work until then.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	work = dir
	code := m.Run()
	if code == 0 && (wholeRun() || os.Getenv("E2E_ROUTE_COVERAGE") != "") {
		if err := checkRouteCoverage(); err != nil {
			fmt.Fprintf(os.Stderr, "route coverage: %v\n", err)
			code = 1
		}
	}
	if err := stopShared(); err != nil {
		fmt.Fprintf(os.Stderr, "shared server: %v\n", err)
		code = 1
	}
	if err := checkLeaks(); err != nil { // every server of the run, stopped
		fmt.Fprintf(os.Stderr, "leak watch: %v\n", err)
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// binary returns the gatehouse binary, built once per test run from this
// module's cmd/gatehouse, with -race when this test binary has it, so the
// race detector watches the server too.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildPath = filepath.Join(work, "gatehouse")
		args := []string{"build", "-o", buildPath}
		if raceEnabled() {
			args = append(args, "-race")
		}
		goCmd, err := exec.LookPath("go")
		if err != nil {
			goCmd = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		}
		cmd := exec.Command(goCmd, append(args, "github.com/gatehouse/gatehouse/cmd/gatehouse")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// server is one `gatehouse serve` process. Restart runs a new process on
// the same data directory, address and environment.
type server struct {
	URL string // the issuer: http://127.0.0.1:<port>
	Dir string // GATEHOUSE_DATA_DIR
	// logDir holds the store of the NATS server the log is on when it is
	// not the embedded one of Dir (a cluster's).
	logDir string
	name   string // of the test that started it, for the leak watch
	bin    string
	env    []string
	proc   *process
	// Starts are the processes run so far, oldest first.
	Starts []*process
}

// process is one run of the binary.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *syncbuf.Buffer
	exited         chan struct{}
	err            error // of Wait, once exited is closed
}

type option func(env map[string]string)

// withGeneratedAdmin leaves the bootstrap credentials unset, so the server
// generates them and prints them once on stdout.
func withGeneratedAdmin() option {
	return func(env map[string]string) {
		delete(env, "GATEHOUSE_BOOTSTRAP_CLIENT_ID")
		delete(env, "GATEHOUSE_BOOTSTRAP_CLIENT_SECRET")
	}
}

// withEnv sets GATEHOUSE_<k>=v.
func withEnv(k, v string) option {
	return func(env map[string]string) { env["GATEHOUSE_"+k] = v }
}

// startServer starts a server of its own for t on a fresh data directory
// and a free loopback port, and waits until /readyz answers 200. It is
// killed when t ends; its logs are shown if t failed. Its directory and
// outputs stay until the end of the run, for the leak watch.
func startServer(t *testing.T, opts ...option) *server {
	t.Helper()
	var s *server
	var err error
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("server logs:\n%s", s.logs())
		}
		if s.raced() {
			t.Errorf("the server reported a data race:\n%s", s.logs())
		}
	})
	if s, err = launch(binary(t), func() string { return workDir(t, "server") }, opts...); err != nil {
		t.Fatal(err)
	}
	s.name = t.Name()
	return s
}

// launch starts a server on a fresh directory of dir(), trying another
// free port when another process took the one it picked meanwhile.
func launch(bin string, dir func() string, opts ...option) (*server, error) {
	for attempt := 1; ; attempt++ {
		s, err := newServer(bin, dir(), opts...)
		if err != nil {
			return nil, err
		}
		watch(s)
		err = s.start()
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return s, err
		}
	}
}

func newServer(bin, dir string, opts ...option) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", port)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	leaks.add(base64.StdEncoding.EncodeToString(key))
	env := map[string]string{
		"GATEHOUSE_ADDR":                    addr,
		"GATEHOUSE_ISSUER":                  "http://" + addr,
		"GATEHOUSE_DATA_DIR":                dir,
		"GATEHOUSE_MASTER_KEY":              base64.StdEncoding.EncodeToString(key),
		"GATEHOUSE_BOOTSTRAP_CLIENT_ID":     adminID,
		"GATEHOUSE_BOOTSTRAP_CLIENT_SECRET": adminSecret,
		"GATEHOUSE_SHUTDOWN_TIMEOUT":        "10s",
	}
	for _, o := range opts {
		o(env)
	}
	s := &server{URL: "http://" + addr, Dir: dir, bin: bin}
	for _, kv := range os.Environ() { // none of the caller's GATEHOUSE_* settings
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			s.env = append(s.env, kv)
		}
	}
	for k, v := range env {
		s.env = append(s.env, k+"="+v)
	}
	return s, nil
}

// freePort returns a loopback port nothing listens on now, below the
// ephemeral range (quietport): a server started again listens there again.
func freePort() (string, error) {
	ln, err := quietport.Listen()
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
}

// start runs a new process and waits until it is ready.
func (s *server) start() error {
	p := &process{stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(s.bin, "serve")
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = s.env, p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start gatehouse: %w", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	s.proc = p
	s.Starts = append(s.Starts, p)
	return s.waitReady(p)
}

// waitReady polls /readyz until it answers 200, the process exits or
// startTimeout passes. The answer counts only once p's banner says it
// listens: on a port taken meanwhile, another server may answer.
func (s *server) waitReady(p *process) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("gatehouse exited before it was ready: %v\n%s", p.err, s.logs())
		default:
		}
		if !strings.Contains(p.stdout.String(), "listening on "+s.URL) {
			time.Sleep(20 * time.Millisecond) // poll interval
			continue
		}
		if res, err := client.Get(s.URL + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	return fmt.Errorf("gatehouse not ready within %s\n%s", startTimeout, s.logs())
}

// stop sends SIGTERM and waits for the process to exit; it returns the
// exit error (nil for exit status 0).
func (s *server) stop() error { return s.signal(syscall.SIGTERM) }

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() { _ = s.signal(syscall.SIGKILL) }

func (s *server) signal(sig os.Signal) error {
	if s == nil {
		return nil
	}
	p := s.proc
	if p == nil {
		return nil
	}
	select {
	case <-p.exited:
		return p.err
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.exited:
		return p.err
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("gatehouse did not exit within %s of %v", stopTimeout, sig)
	}
}

// restart starts the server again on the same data directory, address and
// environment, after stop or kill.
func (s *server) restart(t *testing.T) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

// stdout is what the current process printed on stdout.
func (s *server) stdout() string { return s.proc.stdout.String() }

// logs are the stdout and stderr of every process so far.
func (s *server) logs() string {
	if s == nil {
		return ""
	}
	var b strings.Builder
	for i, p := range s.Starts {
		fmt.Fprintf(&b, "--- start %d stdout:\n%s--- start %d stderr:\n%s", i+1, p.stdout, i+1, p.stderr)
	}
	return b.String()
}

// raced reports whether the race detector spoke in any process.
func (s *server) raced() bool {
	return strings.Contains(s.logs(), "WARNING: DATA RACE")
}

var (
	sharedOnce sync.Once
	sharedSrv  *server
	sharedErr  error
)

// shared returns the server that tests share when they only add apps of
// their own and read what they wrote. It starts on first use and stops at
// the end of TestMain.
func shared(t *testing.T) *server {
	t.Helper()
	sharedOnce.Do(func() {
		n := 0
		sharedSrv, sharedErr = launch(binary(t), func() string {
			n++
			return filepath.Join(work, fmt.Sprintf("shared-%d", n))
		})
		if sharedSrv != nil {
			sharedSrv.name = "shared"
		}
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("shared server stderr (last 4 KiB):\n%s", tail(sharedSrv.proc.stderr.String(), 4<<10))
		}
	})
	return sharedSrv
}

// stopShared stops the shared server, if it started, gracefully: it must
// exit 0 and without a data race.
func stopShared() error {
	if sharedSrv == nil || sharedSrv.proc == nil {
		return nil
	}
	err := sharedSrv.stop()
	if err == nil && sharedSrv.raced() {
		err = errors.New("data race")
	}
	if err != nil {
		return fmt.Errorf("%v\n%s", err, sharedSrv.logs())
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// ctx is t's context, bounded so a hung server fails the test rather than
// the whole run.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

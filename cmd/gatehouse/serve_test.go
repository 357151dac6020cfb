package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/quietport"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
	"github.com/gatehouse/gatehouse/server"
)

// validKey is a valid GATEHOUSE_MASTER_KEY (32 zero bytes).
var validKey = base64.StdEncoding.EncodeToString(make([]byte, 32))

var bannerURL = regexp.MustCompile(`listening on (http://\S+)\n`)

// running is a `gatehouse serve` started by startServe.
type running struct {
	url            string
	stdout, stderr *syncbuf.Buffer
	cancel         context.CancelFunc
	done           chan error
}

// startServe runs `gatehouse serve` with args plus a free loopback port,
// and returns once its banner names the URL.
func startServe(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	args = append([]string{"serve", "--addr", "127.0.0.1:0", "--stream-prefix", "t"}, args...)
	go func() { r.done <- run(ctx, args, r.stdout, r.stderr) }()
	t.Cleanup(func() { r.stop(t) })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := bannerURL.FindStringSubmatch(r.stdout.String()); m != nil {
			r.url = m[1]
			return r
		}
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("serve ended before listening: %v\nstderr: %s", err, r.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no banner within 30s; stdout %q stderr %s", r.stdout, r.stderr)
	return nil
}

// stop cancels serve's ctx and returns run's error; a second call returns
// the same.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop within 30s; stderr: %s", r.stderr)
		return nil
	}
}

// get GETs path and returns the status and body.
func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return res.StatusCode, string(b), res.Header
}

func TestServeEmbedded(t *testing.T) {
	dir := t.TempDir()
	r := startServe(t, "--data-dir", dir)
	if code, body, h := get(t, r.url+"/healthz"); code != 200 || body != `{"status":"ok"}` || h.Get("X-Request-Id") == "" {
		t.Fatalf("healthz = %d %s (request id %q)", code, body, h.Get("X-Request-Id"))
	}
	if code, body, _ := get(t, r.url+"/readyz"); code != 200 || !strings.Contains(body, `"log":"ok"`) {
		t.Fatalf("readyz = %d %s", code, body)
	}
	if code, body, _ := get(t, r.url+"/metrics"); code != 200 || !strings.Contains(body, `gatehouse_http_requests_total{method="GET",route="/readyz",status="200"} 1`) {
		t.Fatalf("metrics = %d:\n%s", code, body)
	}
	if !strings.Contains(r.stdout.String(), "data dir:  "+dir) {
		t.Fatalf("banner lacks the data dir: %q", r.stdout)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("serve: %v\nstderr: %s", err, r.stderr)
	}
	for _, want := range []string{`"msg":"shutting down: draining in-flight requests"`, `"msg":"gatehouse stopped"`} {
		if !strings.Contains(r.stderr.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
		t.Fatalf("no JetStream store in the data dir: %v", err)
	}
}

func TestServeRestartKeepsMasterKey(t *testing.T) {
	dir := t.TempDir()
	first := startServe(t, "--data-dir", dir)
	if err := first.stop(t); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first.stderr.String(), "GATEHOUSE_MASTER_KEY is not set") {
		t.Fatalf("no warning about the generated master key:\n%s", first.stderr)
	}
	key, err := os.ReadFile(filepath.Join(dir, server.MasterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	second := startServe(t, "--data-dir", dir)
	if err := second.stop(t); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(dir, server.MasterKeyFile))
	if !bytes.Equal(key, again) {
		t.Fatal("the second start replaced the master key")
	}
}

func TestServeExternalNATS(t *testing.T) {
	nats, err := events.StartEmbedded(events.EmbeddedConfig{Dir: t.TempDir(), Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nats.Shutdown)
	r := startServe(t, "--data-dir", t.TempDir(), "--nats-url", nats.ClientURL(), "--master-key", validKey)
	if code, body, _ := get(t, r.url+"/readyz"); code != 200 {
		t.Fatalf("readyz = %d %s", code, body)
	}
	if !strings.Contains(r.stdout.String(), "event log: NATS at nats://127.0.0.1:") {
		t.Fatalf("banner does not name the NATS server: %q", r.stdout)
	}
	nats.Shutdown()
	deadline := time.Now().Add(20 * time.Second)
	for code := 200; code != 503; {
		if time.Now().After(deadline) {
			t.Fatal("readyz still 200 after the NATS server stopped")
		}
		code, _, _ = get(t, r.url+"/readyz")
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	if code, _, _ := get(t, r.url+"/healthz"); code != 200 {
		t.Fatalf("healthz = %d while NATS is down; it must not depend on it", code)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("serve: %v", err)
	}
}

func TestServeUnreachableNATS(t *testing.T) {
	ln, err := quietport.Listen()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, _, err = runOut(t, "serve", "--data-dir", t.TempDir(), "--nats-url", "nats://"+addr, "--addr", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "connect to NATS at nats://"+addr) || exitCode(err, io.Discard) != exitError {
		t.Fatalf("err = %v, want a connection error", err)
	}
}

func TestServeBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, _, err = runOut(t, "serve", "--data-dir", t.TempDir(), "--addr", ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "listen on "+ln.Addr().String()) {
		t.Fatalf("err = %v, want a listen error", err)
	}
}

func TestServeInvalidConfigTouchesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	_, _, err := runOut(t, "serve", "--data-dir", dir, "--issuer", "example.com", "--master-key", "short")
	if exitCode(err, io.Discard) != exitUsage || !strings.Contains(err.Error(), "GATEHOUSE_ISSUER") || !strings.Contains(err.Error(), "GATEHOUSE_MASTER_KEY") {
		t.Fatalf("err = %v, want both problems", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the data dir was created by an invalid start: %v", err)
	}
}

// blockingHandler answers once release is closed, after signalling entered.
func blockingHandler(entered chan<- struct{}, release <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusOK)
	})
}

// startServeHTTP runs serveHTTP on a loopback listener and returns its URL
// and the channel of its result.
func startServeHTTP(t *testing.T, ctx context.Context, h http.Handler, grace time.Duration) (string, chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serveHTTP(ctx, h, ln, grace, slog.New(slog.DiscardHandler), nil) }()
	return "http://" + ln.Addr().String(), done
}

// waitRefused polls until addr refuses connections: the listener closed.
func waitRefused(t *testing.T, url string) {
	t.Helper()
	addr := strings.TrimPrefix(url, "http://")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(5 * time.Millisecond) // poll interval
	}
	t.Fatal("the listener still accepts connections after shutdown began")
}

func TestServeHTTPDrainsInFlight(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	entered, release := make(chan struct{}, 1), make(chan struct{})
	url, done := startServeHTTP(t, ctx, blockingHandler(entered, release), 10*time.Second)
	status := make(chan int, 1)
	go func() {
		res, err := http.Get(url)
		if err != nil {
			status <- 0
			return
		}
		res.Body.Close()
		status <- res.StatusCode
	}()
	<-entered
	cancel()
	waitRefused(t, url)
	select {
	case err := <-done:
		t.Fatalf("serveHTTP returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	if s := <-status; s != 200 {
		t.Fatalf("in-flight request got %d, want 200", s)
	}
	if err := <-done; err != nil {
		t.Fatalf("serveHTTP: %v", err)
	}
}

func TestServeHTTPGraceExpires(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	entered, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	url, done := startServeHTTP(t, ctx, blockingHandler(entered, release), 50*time.Millisecond)
	go func() {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
		}
	}()
	<-entered
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "cut off") {
		t.Fatalf("serveHTTP = %v, want the grace period to expire", err)
	}
}

// TestSIGTERM runs the real main in a subprocess and stops it with
// SIGTERM, as an orchestrator would.
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GATEHOUSE_TEST_MAIN=1",
		"GATEHOUSE_TEST_ARGS=serve --addr 127.0.0.1:0 --stream-prefix t --data-dir "+t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	url := readBannerURL(t, stdout)
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if code, _, _ := get(t, url+"/healthz"); code != 200 {
		t.Fatalf("healthz = %d", code)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v; want exit 0\nstderr: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), `"msg":"gatehouse stopped"`) {
		t.Fatalf("no clean stop logged:\n%s", stderr.String())
	}
}

// readBannerURL reads r up to the banner's URL, within 30s.
func readBannerURL(t *testing.T, r io.Reader) string {
	t.Helper()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if m := bannerURL.FindStringSubmatch(sc.Text() + "\n"); m != nil {
				found <- m[1]
				return
			}
		}
		close(found)
	}()
	select {
	case url, ok := <-found:
		if !ok {
			t.Fatal("the process ended without a banner")
		}
		return url
	case <-time.After(30 * time.Second):
		t.Fatal("no banner within 30s")
	}
	return ""
}

//go:build unix

package events_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// minAcks is how many acknowledged events the appender reports before it
// is killed.
const minAcks = 1000

// ack is one event the appender reported as durable.
type ack struct {
	stream events.Stream
	seq    uint64
	ref    events.Ref
	id     string
}

// TestKill9Durability runs the appender (this test binary, see TestMain) on
// an embedded server in a fresh directory, kills it with SIGKILL once it has
// reported minAcks acknowledged events, starts a new embedded server on the
// same directory and reads every acknowledged event back at the sequence
// its append returned: an acknowledgement means the event is on disk.
func TestKill9Durability(t *testing.T) {
	dir, prefix := t.TempDir(), "kill9"
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), appenderDirEnv+"="+dir, appenderPrefixEnv+"="+prefix)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := readLines(stdout)

	acks := collectAcks(t, lines, minAcks, &stderr)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill the appender: %v", err)
	}
	// Lines written before the kill are acknowledged events too.
	acks = append(acks, collectAcks(t, lines, -1, &stderr)...)
	err = cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("appender ended with %v (%s), want killed by SIGKILL; stderr:\n%s", err, cmd.ProcessState, &stderr)
	}

	e, err := events.StartEmbedded(events.EmbeddedConfig{Dir: dir})
	if err != nil {
		t.Fatalf("restart on the killed server's store: %v", err)
	}
	t.Cleanup(e.Shutdown)
	nc, err := e.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	wantAcked(t, openPrefix(t, nc, prefix), acks)
}

// readLines sends the complete lines of r, then closes the channel; a last
// line cut short by the kill is dropped.
func readLines(r io.Reader) <-chan string {
	out := make(chan string, 1024)
	go func() {
		defer close(out)
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			out <- strings.TrimSuffix(line, "\n")
		}
	}()
	return out
}

// collectAcks parses lines until it has n acks, or until the lines end when
// n < 0, failing the test if that takes longer than a deadline.
func collectAcks(t *testing.T, lines <-chan string, n int, stderr *bytes.Buffer) []ack {
	t.Helper()
	var acks []ack
	deadline := time.After(60 * time.Second)
	for n < 0 || len(acks) < n {
		select {
		case line, ok := <-lines:
			if !ok {
				if n < 0 {
					return acks
				}
				t.Fatalf("appender stopped after %d acks; stderr:\n%s", len(acks), stderr)
			}
			a, err := parseAck(line)
			if err != nil {
				t.Fatalf("appender wrote %q: %v", line, err)
			}
			acks = append(acks, a)
		case <-deadline:
			t.Fatalf("appender reported %d acks within the deadline, want %d", len(acks), n)
		}
	}
	return acks
}

func parseAck(line string) (ack, error) {
	var a ack
	_, err := fmt.Sscanf(line, "ack %s %d %s %s %s %s", &a.stream, &a.seq, &a.ref.Tenant, &a.ref.Type, &a.ref.ID, &a.id)
	return a, err
}

// wantAcked reads every acknowledged event back at its sequence.
func wantAcked(t *testing.T, l events.Log, acks []ack) {
	t.Helper()
	byRef := map[events.Ref][]ack{}
	last := map[events.Stream]uint64{}
	for _, a := range acks {
		byRef[a.ref] = append(byRef[a.ref], a)
		last[a.stream] = max(last[a.stream], a.seq)
	}
	for ref, want := range byRef {
		got, err := l.Read(t.Context(), ref)
		if err != nil {
			t.Fatalf("Read(%s) after the kill: %v (acked %d events)", ref, err, len(want))
		}
		at := map[string]events.Event{}
		for _, e := range got {
			at[e.ID] = e
		}
		for _, a := range want {
			e, ok := at[a.id]
			if !ok || e.Seq != a.seq || e.Stream != a.stream {
				t.Errorf("acked event %s of %s at %s #%d: read back %v at %s #%d", a.id, ref, a.stream, a.seq, ok, e.Stream, e.Seq)
			}
		}
	}
	for s, seq := range last {
		if got, err := l.LastSeq(t.Context(), s); err != nil || got < seq {
			t.Errorf("LastSeq(%s) = %d, %v after the kill; acked up to %d", s, got, err, seq)
		}
	}
	t.Logf("%d acknowledged events in %d aggregates survived SIGKILL (last acked: %v)", len(acks), len(byRef), last)
}

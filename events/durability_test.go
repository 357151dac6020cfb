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
// is killed, minPacked of them appended through its GroupCommitter (packed)
// and minPlain with Log.Append.
const (
	minAcks   = 1000
	minPacked = 200
	minPlain  = 200
)

// ack is one event the appender reported as durable.
type ack struct {
	stream events.Stream
	seq    uint64
	ref    events.Ref
	id     string
	packed bool // through the GroupCommitter, which packs
}

// TestKill9Durability runs the appender (this test binary, see TestMain) on
// an embedded server in a fresh directory, kills it with SIGKILL once it has
// reported enough acknowledged events, starts a new embedded server on the
// same directory and finds every acknowledged event at the sequence its
// append returned: events of Log.Append by reading their aggregate, and
// every event of the high-volume stream (packed ones are in no aggregate's
// history) by following the stream. An acknowledgement means the event is
// on disk.
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

	acks := collectAcks(t, lines, enough, &stderr)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill the appender: %v", err)
	}
	// Lines written before the kill are acknowledged events too.
	acks = append(acks, collectAcks(t, lines, nil, &stderr)...)
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

// enough reports whether acks are enough to kill the appender.
func enough(acks []ack) bool {
	packed := 0
	for _, a := range acks {
		if a.packed {
			packed++
		}
	}
	return len(acks) >= minAcks && packed >= minPacked && len(acks)-packed >= minPlain
}

// collectAcks parses lines until done says the acks are enough, or until
// the lines end when done is nil, failing the test if that takes longer
// than a deadline.
func collectAcks(t *testing.T, lines <-chan string, done func([]ack) bool, stderr *bytes.Buffer) []ack {
	t.Helper()
	var acks []ack
	deadline := time.After(60 * time.Second)
	for done == nil || !done(acks) {
		select {
		case line, ok := <-lines:
			if !ok {
				if done == nil {
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
			t.Fatalf("appender reported %d acks within the deadline, not enough", len(acks))
		}
	}
	return acks
}

func parseAck(line string) (ack, error) {
	var a ack
	var kind string
	_, err := fmt.Sscanf(line, "ack %s %d %s %s %s %s %s", &a.stream, &a.seq, &a.ref.Tenant, &a.ref.Type, &a.ref.ID, &a.id, &kind)
	if err == nil && kind != "append" && kind != "packed" {
		err = fmt.Errorf("kind %q", kind)
	}
	a.packed = kind == "packed"
	return a, err
}

// wantAcked reads every acknowledged event back at its sequence.
func wantAcked(t *testing.T, l events.Log, acks []ack) {
	t.Helper()
	byRef := map[events.Ref][]ack{}
	last := map[events.Stream]uint64{}
	packed := 0
	for _, a := range acks {
		if a.packed {
			packed++
		} else {
			byRef[a.ref] = append(byRef[a.ref], a)
		}
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
	// Every high-volume event, packed or not, is in the stream once, at
	// its sequence.
	at := map[string]uint64{}
	messages := map[uint64]int{}
	for _, e := range followAll(t, l, events.HighVolume) {
		if _, dup := at[e.ID]; dup {
			t.Errorf("event %s twice in the high-volume stream", e.ID)
		}
		at[e.ID] = e.Seq
		messages[e.Seq]++
	}
	shared := 0
	for _, a := range acks {
		if a.stream != events.HighVolume {
			continue
		}
		if seq, ok := at[a.id]; !ok || seq != a.seq {
			t.Errorf("acked event %s (packed %v) at %s #%d: followed %v at #%d", a.id, a.packed, a.stream, a.seq, ok, seq)
		}
		if a.packed && messages[a.seq] > 1 {
			shared++
		}
	}
	t.Logf("%d acknowledged events (%d packed, %d of them sharing a message) survived SIGKILL; %d aggregates read (last acked: %v)",
		len(acks), packed, shared, len(byRef), last)
}

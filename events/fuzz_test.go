package events

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// goldenEnvelopes are envelopes of every golden payload (the current and
// the older schemas), the seeds of the decoding targets.
func goldenEnvelopes(f *testing.F) [][]byte {
	f.Helper()
	var out [][]byte
	for dir, schema := range map[string]int{"testdata/golden": 0, "testdata/golden/v1": 1} {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			typ := strings.TrimSuffix(filepath.Base(file), ".json")
			s := schema
			if s == 0 {
				if fac, ok := registry[typ]; ok {
					s = fac.schema
				}
			}
			env, err := json.Marshal(Event{ID: "evt_1", Type: typ, Schema: s, Aggregate: Ref{Tenant: "default", Type: "app", ID: "app_1"},
				Actor: System, Time: time.Unix(1_800_000_000, 0).UTC(), Data: bytes.TrimSpace(data)})
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, env)
		}
	}
	return out
}

// FuzzDecodeEvent: a message of the log, one event or a packed array,
// decodes and upcasts without panicking; a decoded envelope encodes back
// to one that decodes the same; a packed message has as many events as
// its header says, More on all but the last; a typed payload has the
// envelope's type.
func FuzzDecodeEvent(f *testing.F) {
	for _, env := range goldenEnvelopes(f) {
		f.Add(env, "")
		f.Add(append(append([]byte("["), env...), ']'), "1")
		f.Add(append(append(append(append([]byte("["), env...), ','), env...), ']'), "2")
	}
	f.Add([]byte(`{"type":"event.published","schema":0,"data":null}`), "")
	f.Add([]byte(`[]`), "0")
	f.Add([]byte(`[{}]`), "-1")
	f.Fuzz(func(t *testing.T, data []byte, count string) {
		var evs []Event
		if count == "" {
			e, err := decodeMsg(HighVolume, 7, data)
			if err != nil {
				return
			}
			enc, err := json.Marshal(e)
			if err != nil {
				t.Fatalf("%q decoded, does not encode: %v", data, err)
			}
			e2, err := decodeMsg(HighVolume, 7, enc)
			if err != nil {
				t.Fatalf("%s does not decode again: %v", enc, err)
			}
			if enc2, _ := json.Marshal(e2); !bytes.Equal(enc, enc2) {
				t.Fatalf("round trip: %s, then %s", enc, enc2)
			}
			evs = []Event{e}
		} else {
			var err error
			if evs, err = decodePacked(HighVolume, 7, count, data); err != nil {
				return
			}
			if n, _ := strconv.Atoi(count); len(evs) != n {
				t.Fatalf("header %q, %d events", count, len(evs))
			}
			for i, e := range evs {
				if e.More != (i < len(evs)-1) || e.Seq != 7 {
					t.Fatalf("event %d of %d: More %v, Seq %d", i, len(evs), e.More, e.Seq)
				}
			}
		}
		for _, e := range evs {
			p, err := Decode(e)
			if got, _, _ := TypeOf(p); err == nil && got != e.Type {
				t.Fatalf("%s decoded as %s", e.Type, got)
			}
		}
	})
}

package events

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// decodeEnvelope decodes data into e when it is an envelope exactly as
// json.Marshal writes an Event (members in their order, no whitespace,
// strings without escapes, an actor without a chain or with Via only),
// and reports whether it did. Anything else is left to json.Unmarshal,
// so the result is always what json.Unmarshal gives; this only spares
// the log's followers its generic path (a validating scan of the whole
// message, a second one to skip the data, reflection for seven small
// members), which was most of replaying an app.created at a cold start.
// The data member is checked with json.Valid and copied, as
// json.RawMessage would be.
func decodeEnvelope(data []byte, e *Event) bool {
	d := envelopeReader{b: data}
	var out Event
	ok := d.lit(`{"id":`) && d.str(&out.ID) &&
		d.lit(`,"type":`) && d.str(&out.Type) &&
		d.lit(`,"schema":`) && d.int(&out.Schema) &&
		d.lit(`,"aggregate":{"tenant":`) && d.str(&out.Aggregate.Tenant) &&
		d.lit(`,"type":`) && d.str(&out.Aggregate.Type) &&
		d.lit(`,"id":`) && d.str(&out.Aggregate.ID) &&
		d.lit(`},"actor":{"kind":`) && d.str(&out.Actor.Kind) &&
		d.lit(`,"id":`) && d.str(&out.Actor.ID) &&
		(!d.lit(`,"via":`) || d.str(&out.Actor.Via)) &&
		d.lit(`},"time":`) && d.time(&out) &&
		d.lit(`,"data":`)
	if !ok || len(d.b) < 2 || d.b[len(d.b)-1] != '}' {
		return false
	}
	raw := d.b[:len(d.b)-1]
	if isSpace(raw[0]) || isSpace(raw[len(raw)-1]) || !json.Valid(raw) {
		return false
	}
	out.Data = bytes.Clone(raw)
	*e = out
	return true
}

// envelopeReader consumes b from its start.
type envelopeReader struct{ b []byte }

// lit consumes s if b starts with it.
func (d *envelopeReader) lit(s string) bool {
	if len(d.b) < len(s) || string(d.b[:len(s)]) != s {
		return false
	}
	d.b = d.b[len(s):]
	return true
}

// quoted returns the contents of the string at b's start when it has no
// escapes, no control characters and is valid UTF-8 (so that it decodes
// to itself), and consumes it.
func (d *envelopeReader) quoted() ([]byte, bool) {
	if len(d.b) == 0 || d.b[0] != '"' {
		return nil, false
	}
	for i := 1; i < len(d.b); i++ {
		switch c := d.b[i]; {
		case c == '"':
			s := d.b[1:i]
			if !utf8.Valid(s) {
				return nil, false
			}
			d.b = d.b[i+1:]
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

func (d *envelopeReader) str(dst *string) bool {
	s, ok := d.quoted()
	if ok {
		*dst = string(s)
	}
	return ok
}

// int consumes a non-negative integer of at most nine digits without a
// leading zero.
func (d *envelopeReader) int(dst *int) bool {
	n, i := 0, 0
	for ; i < len(d.b) && i < 10 && '0' <= d.b[i] && d.b[i] <= '9'; i++ {
		n = n*10 + int(d.b[i]-'0')
	}
	if i == 0 || i > 9 || i > 1 && d.b[0] == '0' || i < len(d.b) && (d.b[i] == '.' || d.b[i] == 'e' || d.b[i] == 'E') {
		return false
	}
	*dst, d.b = n, d.b[i:]
	return true
}

// time decodes the quoted time at b's start through time.Time's own
// UnmarshalJSON, as json.Unmarshal would.
func (d *envelopeReader) time(e *Event) bool {
	start := d.b
	s, ok := d.quoted()
	if !ok {
		return false
	}
	return e.Time.UnmarshalJSON(start[:len(s)+2]) == nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config shapes the streams of a JetStream log.
type Config struct {
	// Prefix names the streams (PREFIX_CONTROL, PREFIX_EVENTS) and starts
	// every subject (prefix.ctl.…, prefix.evt.…). Default "gh". Tests use a
	// fresh prefix each so they never see each other's events.
	Prefix string
	// Replicas of each stream: 1 on a single node, 3 in a cluster.
	Replicas int
	// HighVolumeMaxAge is how long the high-volume stream keeps events.
	// It must exceed the longest token lifetime. Default 90 days.
	HighVolumeMaxAge time.Duration
	// ControlDuplicates and HighVolumeDuplicates are the de-duplication
	// windows of DedupeID. Defaults 24h and 2m.
	ControlDuplicates    time.Duration
	HighVolumeDuplicates time.Duration
	// Timeout bounds each request to the server when ctx has no deadline.
	// Default 5s.
	Timeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = "gh"
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.HighVolumeMaxAge == 0 {
		c.HighVolumeMaxAge = 90 * 24 * time.Hour
	}
	if c.ControlDuplicates == 0 {
		c.ControlDuplicates = 24 * time.Hour
	}
	if c.HighVolumeDuplicates == 0 {
		c.HighVolumeDuplicates = 2 * time.Minute
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	c = c.withDefaults()
	if err := validToken(c.Prefix); err != nil {
		return fmt.Errorf("events: prefix %q %v", c.Prefix, err)
	}
	for _, r := range c.Prefix {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("events: prefix %q: use lower-case letters, digits, - and _", c.Prefix)
		}
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return fmt.Errorf("events: replicas %d: must be 1 to 5", c.Replicas)
	}
	return nil
}

// JetStream is the Log on NATS JetStream.
type JetStream struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	cfg     Config
	names   map[Stream]string // stream names
	subject map[Stream]string // subject prefixes, with the trailing dot
	streams map[Stream]jetstream.Stream
}

var (
	_ Log    = (*JetStream)(nil)
	_ Packer = (*JetStream)(nil)
)

// MinServerVersion is the oldest NATS server with atomic batch publish.
const MinServerVersion = "2.12.0"

// Open checks the server, creates or updates the streams and returns the
// log. The caller keeps ownership of nc.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*JetStream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if !serverAtLeast(nc.ConnectedServerVersion(), MinServerVersion) {
		return nil, fmt.Errorf("events: NATS server %s is too old: Gatehouse needs %s or later (atomic batch publish)", nc.ConnectedServerVersion(), MinServerVersion)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("events: jetstream: %w", err)
	}
	up := strings.ToUpper(strings.ReplaceAll(cfg.Prefix, "-", "_"))
	l := &JetStream{
		nc:  nc,
		js:  js,
		cfg: cfg,
		names: map[Stream]string{
			Control:    up + "_CONTROL",
			HighVolume: up + "_EVENTS",
		},
		subject: map[Stream]string{
			Control:    cfg.Prefix + ".ctl.",
			HighVolume: cfg.Prefix + ".evt.",
		},
		streams: make(map[Stream]jetstream.Stream, len(Streams)),
	}
	for _, s := range Streams {
		str, err := l.createStream(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("events: create stream %s: %w", l.names[s], err)
		}
		l.streams[s] = str
	}
	return l, nil
}

// streamSetupTimeout bounds how long Open waits for a cluster that cannot
// place a stream yet (electing leaders, peers still joining).
const streamSetupTimeout = 60 * time.Second

// createStream creates or updates the stream of s. A timeout, a 503 of
// the JetStream API or "no suitable peers" (a cluster still forming, an
// instance starting with its NATS servers) is retried with backoff for up
// to streamSetupTimeout; any other refusal (e.g. 3 replicas on a server
// that is not clustered) fails at once.
func (l *JetStream) createStream(ctx context.Context, s Stream) (jetstream.Stream, error) {
	ctx, cancel := context.WithTimeout(ctx, streamSetupTimeout)
	defer cancel()
	backoff := 100 * time.Millisecond
	for {
		actx, acancel := context.WithTimeout(ctx, l.cfg.Timeout)
		str, err := l.js.CreateOrUpdateStream(actx, l.streamConfig(s))
		acancel()
		var apiErr *jetstream.APIError
		transient := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
			errors.Is(err, nats.ErrNoResponders) ||
			errors.As(err, &apiErr) && (apiErr.Code == 503 || apiErr.ErrorCode == errCodeNoPeers)
		if err == nil || !transient || ctx.Err() != nil {
			return str, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (l *JetStream) streamConfig(s Stream) jetstream.StreamConfig {
	c := jetstream.StreamConfig{
		Name:               l.names[s],
		Subjects:           []string{l.subject[s] + ">"},
		Storage:            jetstream.FileStorage,
		Retention:          jetstream.LimitsPolicy,
		Replicas:           l.cfg.Replicas,
		Duplicates:         l.cfg.ControlDuplicates,
		AllowDirect:        true,
		AllowAtomicPublish: true,
		DenyDelete:         true,
		DenyPurge:          true,
	}
	if s == HighVolume {
		c.Description = "Gatehouse high-volume events: token mints and revocations, published events, deliveries"
		c.MaxAge = l.cfg.HighVolumeMaxAge
		c.Duplicates = l.cfg.HighVolumeDuplicates
	} else {
		c.Description = "Gatehouse control plane: tenants, apps, scopes, keys, subscriptions (kept forever)"
	}
	return c
}

// StreamName returns the JetStream stream that holds s.
func (l *JetStream) StreamName(s Stream) string { return l.names[s] }

// Subject returns the subject an aggregate's events are appended to.
func (l *JetStream) Subject(r Ref) string {
	return l.subject[StreamOf(r.Type)] + r.Tenant + "." + r.Type + "." + r.ID
}

// PackedSubject returns the subject of packed messages (AppendPacked), in
// the high-volume stream: prefix.evt._packed. One token after "evt" where an
// aggregate's subject has three, so it is never an aggregate's. Events of
// the aggregate types a Queue selects are packed apart, see PackedSubjectOf.
func (l *JetStream) PackedSubject() string { return l.subject[HighVolume] + packedToken }

// packedApart are the aggregate types whose events are packed in messages
// of their own, on a subject a Queue can select without reading the other
// packed messages: published events, which the webhook dispatcher
// consumes.
var packedApart = map[string]bool{AggPublished: true}

// PackedSubjectOf returns the subject of the packed messages that hold
// events of aggregate type typ: prefix.evt._packed.<typ> for the types
// packed apart (published events), PackedSubject otherwise. Two tokens
// after "evt", so never an aggregate's subject either.
func (l *JetStream) PackedSubjectOf(typ string) string {
	if packedApart[typ] {
		return l.PackedSubject() + "." + typ
	}
	return l.PackedSubject()
}

func (l *JetStream) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, l.cfg.Timeout)
}

// Append implements Log. One event is one publish; several are one
// JetStream atomic batch, committed by its last message.
func (l *JetStream) Append(ctx context.Context, a Append) (Result, error) {
	stream, err := checkAppend(a)
	if err != nil {
		return Result{}, err
	}
	msgs, err := l.messages(a)
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := l.ctx(ctx)
	defer cancel()
	var res Result
	if len(msgs) == 1 {
		res, err = l.publishOne(ctx, stream, msgs[0])
	} else {
		res, err = l.publishBatch(ctx, stream, msgs)
	}
	if a.DedupeID != "" && (errors.Is(err, ErrVersionConflict) || errors.Is(err, errBatchDuplicate)) {
		return l.duplicate(ctx, stream, a, err)
	}
	return res, err
}

// checkAppend validates a and returns the stream it goes to.
func checkAppend(a Append) (Stream, error) {
	if len(a.Events) == 0 {
		return "", fmt.Errorf("%w: empty append", ErrInvalid)
	}
	stream := StreamOf(a.Events[0].Aggregate.Type)
	written := make(map[Ref]bool, len(a.Events))
	for _, e := range a.Events {
		if err := e.Aggregate.Validate(); err != nil {
			return "", err
		}
		if e.ID == "" || e.Type == "" {
			return "", fmt.Errorf("%w: event without id or type", ErrInvalid)
		}
		if StreamOf(e.Aggregate.Type) != stream {
			return "", fmt.Errorf("%w: one append mixes streams %s and %s", ErrInvalid, stream, StreamOf(e.Aggregate.Type))
		}
		written[e.Aggregate] = true
	}
	for _, x := range a.Expect {
		if !written[x.Ref] {
			return "", fmt.Errorf("%w: expectation on %s, which the append does not write", ErrInvalid, x.Ref)
		}
	}
	return stream, nil
}

// messages encodes a's events, putting each expectation on the first
// message of its aggregate and the DedupeID on the first message: the
// server checks a batch message by message, the Nats-Msg-Id of a message
// before its expectation, so a retried batch is found to be a duplicate
// before its (by now stale) expectation fails it.
func (l *JetStream) messages(a Append) ([]*nats.Msg, error) {
	expect := make(map[Ref]uint64, len(a.Expect))
	for _, x := range a.Expect {
		expect[x.Ref] = x.Seq
	}
	msgs := make([]*nats.Msg, len(a.Events))
	for i, e := range a.Events {
		body, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("events: encode %s: %w", e.Type, err)
		}
		m := nats.NewMsg(l.Subject(e.Aggregate))
		m.Data = body
		if seq, ok := expect[e.Aggregate]; ok {
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(seq, 10))
			delete(expect, e.Aggregate)
		}
		msgs[i] = m
	}
	if a.DedupeID != "" {
		msgs[0].Header.Set(jetstream.MsgIDHeader, a.DedupeID)
	}
	return msgs, nil
}

func (l *JetStream) publishOne(ctx context.Context, s Stream, m *nats.Msg) (Result, error) {
	ack, err := l.js.PublishMsg(ctx, m)
	if err != nil {
		return Result{}, l.publishErr(err)
	}
	return Result{Stream: s, Seqs: []uint64{ack.Sequence}, Duplicate: ack.Duplicate}, nil
}

// Headers of JetStream atomic batch publish (NATS 2.12+).
const (
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"
)

// batchAck is the server's answer to a batch commit.
type batchAck struct {
	Stream    string              `json:"stream"`
	Seq       uint64              `json:"seq"`
	Duplicate bool                `json:"duplicate,omitempty"`
	BatchSize int                 `json:"count,omitempty"`
	Error     *jetstream.APIError `json:"error,omitempty"`
}

// publishBatch sends msgs as one atomic batch. A batch the server discarded
// whole before committing it (too many open batches, most often) is sent
// again under a new batch id until ctx ends.
func (l *JetStream) publishBatch(ctx context.Context, s Stream, msgs []*nats.Msg) (Result, error) {
	msgs[len(msgs)-1].Header.Set(hdrBatchCommit, "1")
	for i, m := range msgs {
		m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
	}
	backoff := time.Millisecond
	for {
		id := NewID("b")
		for _, m := range msgs {
			m.Header.Set(hdrBatchID, id)
		}
		res, err := l.sendBatch(ctx, s, msgs)
		if !errors.Is(err, errBatchDiscarded) {
			return res, err
		}
		t := time.NewTimer(backoff/2 + rand.N(backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return Result{}, fmt.Errorf("%w: %v (last: %v)", ErrUnavailable, ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

var (
	// errBatchDiscarded: the server dropped the batch before its commit;
	// nothing of it was written and it can be sent again.
	errBatchDiscarded = errors.New("events: batch discarded before commit")
	// errBatchDuplicate: the batch's DedupeID matched an earlier append,
	// whose position the server does not report.
	errBatchDuplicate = errors.New("events: duplicate batch")
)

// sendBatch publishes every message but the last without waiting (the
// server answers only the commit) and the last as a request. When the first
// message is refused (too many open batches), the server drops the rest
// and answers the commit with "incomplete batch".
func (l *JetStream) sendBatch(ctx context.Context, s Stream, msgs []*nats.Msg) (Result, error) {
	for _, m := range msgs[:len(msgs)-1] {
		if err := l.nc.PublishMsg(m); err != nil {
			return Result{}, l.publishErr(err)
		}
	}
	reply, err := l.nc.RequestMsgWithContext(ctx, msgs[len(msgs)-1])
	if err != nil {
		return Result{}, l.publishErr(err)
	}
	var ack batchAck
	if err := json.Unmarshal(reply.Data, &ack); err != nil {
		return Result{}, fmt.Errorf("%w: bad batch ack: %v", ErrUnavailable, err)
	}
	if ack.Error != nil {
		switch ack.Error.ErrorCode {
		case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
			return Result{}, fmt.Errorf("%w: %s", ErrVersionConflict, ack.Error.Description)
		case errCodeBatchDuplicate:
			return Result{}, errBatchDuplicate
		case errCodeBatchTooManyInflight, errCodeBatchIncomplete, errCodeDuplicateInProcess:
			// In process: an append with the same DedupeID is in flight
			// (another instance making the same decision); sent again, this
			// one is a duplicate of it once it commits.
			return Result{}, fmt.Errorf("%w: %s", errBatchDiscarded, ack.Error.Description)
		}
		return Result{}, fmt.Errorf("events: batch append: %w", ack.Error)
	}
	n := uint64(len(msgs))
	if ack.BatchSize != 0 && uint64(ack.BatchSize) != n {
		return Result{}, fmt.Errorf("events: batch of %d committed as %d messages", n, ack.BatchSize)
	}
	seqs := make([]uint64, n)
	for i := range seqs {
		seqs[i] = ack.Seq - n + 1 + uint64(i)
	}
	return Result{Stream: s, Seqs: seqs}, nil
}

// duplicate answers an append the server refused because a.DedupeID matched
// an earlier append (a batch), or that failed an expectation because it is
// a retry of an append that succeeded (a single publish: the server checks
// the expectation before the de-duplication). It finds the earlier append by
// the Nats-Msg-Id its first message carries, on the subject of a's first
// aggregate, and returns its position with Duplicate set. An expectation
// failure without such an append is a real conflict: cause is returned.
func (l *JetStream) duplicate(ctx context.Context, s Stream, a Append, cause error) (Result, error) {
	seqs, err := l.findAppend(ctx, s, l.Subject(a.Events[0].Aggregate), a.DedupeID)
	if err != nil {
		return Result{}, err
	}
	if seqs != nil {
		return Result{Stream: s, Seqs: seqs, Duplicate: true}, nil
	}
	if !errors.Is(cause, errBatchDuplicate) {
		return Result{}, cause
	}
	// The earlier append wrote other aggregates: report the stream's last
	// sequence, which is at least the earlier append's last one.
	last, err := l.LastSeq(ctx, s)
	if err != nil {
		return Result{}, err
	}
	return Result{Stream: s, Seqs: []uint64{last}, Duplicate: true}, nil
}

// findAppend walks subj for the message carrying Nats-Msg-Id id and returns
// the sequences of the append it started (all of its batch), or nil.
func (l *JetStream) findAppend(ctx context.Context, s Stream, subj, id string) ([]uint64, error) {
	str := l.streams[s]
	for seq := uint64(1); ; {
		m, err := str.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		if m.Header.Get(jetstream.MsgIDHeader) == id {
			return l.batchFrom(ctx, str, m)
		}
		seq = m.Sequence + 1
	}
}

// batchFrom returns the sequences of the append whose first message is
// first: the batch's messages are consecutive in the stream, up to the one
// that committed it.
func (l *JetStream) batchFrom(ctx context.Context, str jetstream.Stream, first *jetstream.RawStreamMsg) ([]uint64, error) {
	seqs := []uint64{first.Sequence}
	batch := first.Header.Get(hdrBatchID)
	for m := first; batch != "" && m.Header.Get(hdrBatchCommit) == ""; {
		var err error
		if m, err = str.GetMsg(ctx, m.Sequence+1); err != nil {
			return nil, fmt.Errorf("%w: batch %s after #%d: %v", ErrUnavailable, batch, seqs[len(seqs)-1], err)
		}
		if m.Header.Get(hdrBatchID) != batch {
			return nil, fmt.Errorf("events: batch %s is not contiguous at #%d", batch, m.Sequence)
		}
		seqs = append(seqs, m.Sequence)
	}
	return seqs, nil
}

// JetStream error codes that nats.go does not name.
const (
	errCodeNoPeers              jetstream.ErrorCode = 10005
	errCodeDuplicateInProcess   jetstream.ErrorCode = 10158
	errCodeBatchIncomplete      jetstream.ErrorCode = 10176
	errCodeBatchDuplicate       jetstream.ErrorCode = 10201
	errCodeBatchTooManyInflight jetstream.ErrorCode = 10210
)

func (l *JetStream) publishErr(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
			return fmt.Errorf("%w: %s", ErrVersionConflict, apiErr.Description)
		}
		return fmt.Errorf("events: append: %w", err)
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// Packed messages: one JetStream message whose body is the JSON array of
// its events' envelopes, on PackedSubjectOf their aggregate type, with
// header hdrPacked saying how many events it holds and hdrPackedTypes
// which types they are.
const (
	hdrPacked = "Gatehouse-Packed"
	// hdrPackedTypes lists the distinct types of a packed message's
	// events, comma-separated, so a follower that wants none of them can
	// pass the message on without decoding it (FollowTypes). Messages
	// written before it existed lack it and are always decoded.
	hdrPackedTypes = "Gatehouse-Packed-Types"
	packedToken    = "_packed"
	// maxPackedBytes caps the body of one packed message (the connection's
	// MaxPayload, less room for headers, when that is smaller): about
	// 2,000 token mints. Bigger messages would only make the readers'
	// buffers bigger; one message is one sync whatever its size.
	maxPackedBytes = 1 << 20
	// packedHeaderRoom is what the headers of a packed message may take of
	// the server's MaxPayload.
	packedHeaderRoom = 1 << 10
)

// AppendPacked implements Packer: evs are encoded into messages of at most
// maxPackedBytes, each published once and acknowledged once the server has
// made it durable, one after the other. A message holds events of one
// packed subject only (PackedSubjectOf), so a run of published events
// among others is a message of its own.
func (l *JetStream) AppendPacked(ctx context.Context, evs []Event) (Result, error) {
	bodies, err := encodePacked(evs)
	if err != nil {
		return Result{}, err
	}
	limit := l.packLimit()
	for i, b := range bodies {
		if len(b)+2 > limit {
			return Result{}, fmt.Errorf("%w: event %s is %d bytes encoded, more than a packed message holds (%d)", ErrInvalid, evs[i].ID, len(b), limit-2)
		}
	}
	ctx, cancel := l.ctx(ctx)
	defer cancel()
	res := Result{Stream: HighVolume, Seqs: make([]uint64, 0, len(evs))}
	for len(bodies) > 0 {
		subj := l.PackedSubjectOf(evs[0].Aggregate.Type)
		run := 1
		for run < len(bodies) && l.PackedSubjectOf(evs[run].Aggregate.Type) == subj {
			run++
		}
		n, body := pack(bodies[:run], limit)
		m := nats.NewMsg(subj)
		m.Header.Set(hdrPacked, strconv.Itoa(n))
		if types := packedTypes(evs[:n]); types != "" { // evs starts at this message
			m.Header.Set(hdrPackedTypes, types)
		}
		m.Data = body
		ack, err := l.js.PublishMsg(ctx, m, jetstream.WithExpectStream(l.names[HighVolume]))
		if err != nil {
			return res, l.publishErr(err)
		}
		for range n {
			res.Seqs = append(res.Seqs, ack.Sequence)
		}
		bodies, evs = bodies[n:], evs[n:]
	}
	return res, nil
}

// packedTypes lists the distinct types of evs in order of appearance,
// comma-separated; "" (no header: the message is always decoded) should
// a type hold a comma.
func packedTypes(evs []Event) string {
	types := make([]string, 0, 1)
	for _, e := range evs {
		if strings.Contains(e.Type, ",") {
			return ""
		}
		if !slices.Contains(types, e.Type) {
			types = append(types, e.Type)
		}
	}
	return strings.Join(types, ",")
}

// encodePacked checks that evs can be packed and returns their envelopes.
func encodePacked(evs []Event) ([][]byte, error) {
	if len(evs) == 0 {
		return nil, fmt.Errorf("%w: empty packed append", ErrInvalid)
	}
	bodies := make([][]byte, len(evs))
	for i, e := range evs {
		if err := e.Aggregate.Validate(); err != nil {
			return nil, err
		}
		if e.ID == "" || e.Type == "" {
			return nil, fmt.Errorf("%w: event without id or type", ErrInvalid)
		}
		if s := StreamOf(e.Aggregate.Type); s != HighVolume {
			return nil, fmt.Errorf("%w: packed append of %s, an event of the %s stream (only %s events are packed)", ErrInvalid, e.Aggregate, s, HighVolume)
		}
		b, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("events: encode %s: %w", e.Type, err)
		}
		bodies[i] = b
	}
	return bodies, nil
}

// packLimit is the most bytes the body of one packed message may take.
func (l *JetStream) packLimit() int {
	limit := maxPackedBytes
	if mp := int(l.nc.MaxPayload()) - packedHeaderRoom; mp > 0 && mp < limit {
		limit = mp
	}
	return limit
}

// pack returns how many of bodies (at least one) fit in a body of at most
// limit bytes, and that body: their JSON array.
func pack(bodies [][]byte, limit int) (int, []byte) {
	n, size := 0, 1 // "["
	for n < len(bodies) && (n == 0 || size+1+len(bodies[n]) <= limit) {
		size += 1 + len(bodies[n]) // "," or "]"
		n++
	}
	buf := make([]byte, 0, size)
	buf = append(buf, '[')
	for i, b := range bodies[:n] {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, b...)
	}
	return n, append(buf, ']')
}

// Read implements Log by walking the aggregate's subject with direct gets.
// Packed messages are on a subject of their own, never an aggregate's.
func (l *JetStream) Read(ctx context.Context, ref Ref) ([]Event, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := l.ctx(ctx)
	defer cancel()
	s := StreamOf(ref.Type)
	str := l.streams[s]
	subj := l.Subject(ref)
	var out []Event
	for seq := uint64(1); ; {
		m, err := str.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		e, err := decodeMsg(s, m.Sequence, m.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		seq = m.Sequence + 1
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, nil
}

// decodeMsg decodes the message at seq of s: one event.
func decodeMsg(s Stream, seq uint64, data []byte) (Event, error) {
	var e Event
	if decodeEnvelope(data, &e) {
		e.Stream, e.Seq = s, seq
		return e, nil
	}
	return unmarshalMsg(s, seq, data)
}

// unmarshalMsg is decodeMsg through json.Unmarshal, a function of its own
// so that the Event of decodeMsg's fast path stays on its stack (one
// allocation less an event a follower reads: json.Unmarshal's pointer
// would move it to the heap).
func unmarshalMsg(s Stream, seq uint64, data []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return Event{}, fmt.Errorf("events: decode %s #%d: %w", s, seq, err)
	}
	e.Stream, e.Seq = s, seq
	return e, nil
}

// decodePacked decodes the packed message at seq of s, whose hdrPacked
// header is count: its events in order, all at seq, More set on all but
// the last.
func decodePacked(s Stream, seq uint64, count string, data []byte) ([]Event, error) {
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("events: decode %s #%d: bad %s header %q", s, seq, hdrPacked, count)
	}
	evs := make([]Event, 0, n)
	if err := json.Unmarshal(data, &evs); err != nil {
		return nil, fmt.Errorf("events: decode %s #%d: %w", s, seq, err)
	}
	if len(evs) != n {
		return nil, fmt.Errorf("events: decode %s #%d: %d packed events, the header says %d", s, seq, len(evs), n)
	}
	for i := range evs {
		evs[i].Stream, evs[i].Seq, evs[i].More = s, seq, i < n-1
	}
	return evs, nil
}

// wantsAny reports whether want accepts one of the comma-separated types.
func wantsAny(want func(string) bool, types string) bool {
	for t := range strings.SplitSeq(types, ",") {
		if want(t) {
			return true
		}
	}
	return false
}

// undecodedPacked stands for the count events of the packed message at
// seq, none of which the follower wants: positions only (Stream, Seq,
// More) and the message's first type, no id, aggregate or data.
func undecodedPacked(s Stream, seq uint64, count, types string) ([]Event, error) {
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("events: decode %s #%d: bad %s header %q", s, seq, hdrPacked, count)
	}
	typ, _, _ := strings.Cut(types, ",")
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = Event{Type: typ, Stream: s, Seq: seq, More: i < n-1}
	}
	return evs, nil
}

// Follow implements Log with an ordered consumer: no server-side state to
// clean up, redelivery-free, and it resumes by itself after a reconnect.
func (l *JetStream) Follow(ctx context.Context, s Stream, after uint64, h Handler) error {
	return l.FollowTypes(ctx, s, after, nil, h)
}

// FollowTypes implements TypeFollower: Follow, except that the events of a
// packed message whose types want accepts none of are handed on
// undecoded (see TypeFollower). A nil want wants every type.
func (l *JetStream) FollowTypes(ctx context.Context, s Stream, after uint64, want func(eventType string) bool, h Handler) error {
	if _, ok := l.streams[s]; !ok {
		return fmt.Errorf("%w: no stream %q", ErrInvalid, s)
	}
	// Our own cancel stops the iterator's watcher below when h fails.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if after > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = after + 1
	}
	var cons jetstream.Consumer
	err := retry(ctx, func() (err error) {
		cons, err = l.js.OrderedConsumer(ctx, l.names[s], cfg)
		return err
	})
	if err != nil {
		return err
	}
	// 1024 messages: a packed message may hold up to maxPackedBytes, but
	// groups of token mints are far smaller (500 at most by default, about
	// 250 kB). Buffering by bytes (PullMaxBytes) replayed 15-20% slower.
	it, err := cons.Messages(jetstream.PullMaxMessages(1024))
	if err != nil {
		return fmt.Errorf("events: follow %s: %w", s, err)
	}
	defer it.Stop()
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("events: follow %s: %w", s, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("events: follow %s: %w", s, err)
		}
		if count := m.Headers().Get(hdrPacked); count != "" {
			var evs []Event
			if types := m.Headers().Get(hdrPackedTypes); want != nil && types != "" && !wantsAny(want, types) {
				evs, err = undecodedPacked(s, md.Sequence.Stream, count, types)
			} else {
				evs, err = decodePacked(s, md.Sequence.Stream, count, m.Data())
			}
			if err != nil {
				return err
			}
			for _, e := range evs {
				e.Pending = md.NumPending
				if err := h(ctx, e); err != nil {
					return err
				}
			}
			continue
		}
		e, err := decodeMsg(s, md.Sequence.Stream, m.Data())
		if err != nil {
			return err
		}
		e.Pending = md.NumPending
		if err := h(ctx, e); err != nil {
			return err
		}
	}
}

// retry calls f until it succeeds or ctx ends, backing off up to a second.
func retry(ctx context.Context, f func() error) error {
	backoff := 10 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// LastSeq implements Log.
func (l *JetStream) LastSeq(ctx context.Context, s Stream) (uint64, error) {
	str, ok := l.streams[s]
	if !ok {
		return 0, fmt.Errorf("%w: no stream %q", ErrInvalid, s)
	}
	ctx, cancel := l.ctx(ctx)
	defer cancel()
	info, err := str.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return info.State.LastSeq, nil
}

// serverAtLeast compares dotted versions like "2.12.1" (a "-suffix" is
// ignored).
func serverAtLeast(have, want string) bool {
	h, w := versionParts(have), versionParts(want)
	for i := range w {
		if h[i] != w[i] {
			return h[i] > w[i]
		}
	}
	return true
}

func versionParts(v string) [3]int {
	v, _, _ = strings.Cut(strings.TrimPrefix(v, "v"), "-")
	var out [3]int
	for i, p := range strings.SplitN(v, ".", 3) {
		out[i], _ = strconv.Atoi(p)
	}
	return out
}

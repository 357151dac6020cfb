package events

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Actor kinds, as the audit feed shows them.
const (
	ActorApp    = "app"
	ActorUser   = "user"
	ActorSystem = "system"
)

// Actor is who caused an event. Via and OnBehalfOf name the chain behind
// an app's request (App the app behind a user's) (API.md "Authentication of the platform API": the
// events a service token leads to name both the app and the admin that
// minted the token). Both are additive: events written before them read
// as an actor without a chain.
type Actor struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	// Via is the jti of the access token the app acted with.
	Via string `json:"via,omitempty"`
	// OnBehalfOf is the admin that minted that token when it is a service
	// token (RFC 8693 §4.1 "act"), with its own chain.
	OnBehalfOf *Actor `json:"on_behalf_of,omitempty"`
	// App is, for a user (Kind ActorUser) acting with a token issued to
	// them through an app, that app's id: the user acts, through the app.
	// It is not part of the chain (Root, Chain): approvals count the
	// user.
	App string `json:"app,omitempty"`
}

// Root is the actor at the end of the chain: the admin behind a service
// token (behind the admin's own service token, and so on), else the actor
// itself. Quorum approvals count roots, so one admin acting through
// several tokens counts once.
func (a Actor) Root() string {
	for a.OnBehalfOf != nil {
		a = *a.OnBehalfOf
	}
	return a.ID
}

// Chain lists the ids of the actor and of every admin behind it, the
// actor first.
func (a Actor) Chain() []string {
	out := []string{a.ID}
	for a.OnBehalfOf != nil {
		a = *a.OnBehalfOf
		out = append(out, a.ID)
	}
	return out
}

// System is the actor of events the server emits on its own (bootstrap, key
// rotation, webhook disabling).
var System = Actor{Kind: ActorSystem, ID: "gatehouse"}

// Ref names one aggregate: the unit of optimistic concurrency. Its events
// share one subject of the log.
type Ref struct {
	Tenant string `json:"tenant"`
	Type   string `json:"type"`
	ID     string `json:"id"`
}

func (r Ref) String() string { return r.Tenant + "/" + r.Type + "/" + r.ID }

// Validate reports whether every part of r can name a subject token.
func (r Ref) Validate() error {
	for _, p := range [...]struct{ name, v string }{{"tenant", r.Tenant}, {"aggregate type", r.Type}, {"aggregate id", r.ID}} {
		if err := validToken(p.v); err != nil {
			return fmt.Errorf("%w: %s %q %v", ErrInvalid, p.name, p.v, err)
		}
	}
	return nil
}

func validToken(s string) error {
	if s == "" {
		return errors.New("is empty")
	}
	if len(s) > 128 {
		return errors.New("is longer than 128 bytes")
	}
	if strings.ContainsAny(s, ".*> \t\r\n") {
		return errors.New("contains one of . * > or white space")
	}
	return nil
}

// Event is the envelope every event travels in. Data holds the typed
// payload's JSON (see Payload); Stream and Seq are its position in the log,
// filled in by the log when it is read or appended.
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Schema    int             `json:"schema"`
	Aggregate Ref             `json:"aggregate"`
	Actor     Actor           `json:"actor"`
	Time      time.Time       `json:"time"`
	Data      json.RawMessage `json:"data"`

	// Stream and Seq are the event's position in the log. Seq is also the
	// aggregate's version after this event: the value to pass as
	// Expect.Seq when appending the aggregate's next event.
	Stream Stream `json:"-"`
	Seq    uint64 `json:"-"`
	// Pending is set by Log.Follow: how many messages of the stream were
	// known to follow this one's when it was delivered. 0 (with More
	// unset) means the follower has caught up (for now), a good moment to
	// commit a batch.
	Pending uint64 `json:"-"`
	// More is set by Log.Follow on every event of a packed message (see
	// Packer) but its last: the events that follow share this one's Seq.
	// A follower that checkpoints stream sequences must not cut a batch
	// after an event with More set, or a restart from that checkpoint
	// would skip the rest of the message.
	More bool `json:"-"`
}

// Tenant returns the tenant the event belongs to.
func (e Event) Tenant() string { return e.Aggregate.Tenant }

// Payload is a typed event body: a struct the type files register with
// define (or a pointer to one, as Decode returns it). The registry gives
// its envelope's Type and Schema (see TypeOf).
type Payload = any

// New wraps p in an envelope for aggregate ref, caused by actor at now.
func New(ref Ref, actor Actor, now time.Time, p Payload) (Event, error) {
	if err := ref.Validate(); err != nil {
		return Event{}, err
	}
	k, ok := kinds[reflect.TypeOf(p)]
	if !ok {
		return Event{}, fmt.Errorf("%w: %T is not a registered event payload", ErrInvalid, p)
	}
	data, err := encodePayload(p)
	if err != nil {
		return Event{}, fmt.Errorf("events: encode %s: %w", k.name, err)
	}
	return Event{
		ID:        NewID("evt"),
		Type:      k.name,
		Schema:    k.schema,
		Aggregate: ref,
		Actor:     actor,
		Time:      now.UTC(),
		Data:      data,
	}, nil
}

// jsonAppender is a payload that encodes itself as json.Marshal would
// (the code flow's and the token path's: AuthCodeIssued, TokenMinted,
// AuthCodeRedeemed, RefreshRotated), without reflection.
type jsonAppender interface {
	AppendJSON(b []byte) ([]byte, error)
}

func encodePayload(p Payload) ([]byte, error) {
	if a, ok := p.(jsonAppender); ok {
		return a.AppendJSON(make([]byte, 0, 256))
	}
	return json.Marshal(p)
}

// Change is one event of an append before it is wrapped: a payload for
// its aggregate.
type Change struct {
	Ref     Ref
	Payload Payload
}

// NewAll wraps changes (see New), all caused by actor at now.
func NewAll(actor Actor, now time.Time, changes ...Change) ([]Event, error) {
	out := make([]Event, len(changes))
	for i, c := range changes {
		e, err := New(c.Ref, actor, now, c.Payload)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// MustNew is New for payloads that cannot fail to encode, in tests and
// fixed bootstrap code.
func MustNew(ref Ref, actor Actor, now time.Time, p Payload) Event {
	e, err := New(ref, actor, now, p)
	if err != nil {
		panic(err)
	}
	return e
}

// Decode returns the typed payload of e, upcast to the newest schema.
// It returns an error wrapping ErrUnknownType for a type this build does
// not know.
func Decode(e Event) (Payload, error) {
	k, ok := registry[e.Type]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, e.Type)
	}
	p := k.new()
	data := e.Data
	if k.up != nil && e.Schema < k.schema {
		var err error
		if data, err = k.up(e.Schema, data); err != nil {
			return nil, fmt.Errorf("events: upcast %s v%d: %w", e.Type, e.Schema, err)
		}
	}
	if err := json.Unmarshal(data, p); err != nil {
		return nil, fmt.Errorf("events: decode %s: %w", e.Type, err)
	}
	return p, nil
}

// NewID returns a new random identifier with the given prefix, e.g.
// "app_3kq1…". IDs are 20 random bytes in lower-case base32: safe as subject
// tokens, URL path segments and JSON strings.
func NewID(prefix string) string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + encodeBase32(b[:])
}

const base32Alphabet = "abcdefghijklmnopqrstuvwxyz234567"

func encodeBase32(b []byte) string {
	out := make([]byte, 0, (len(b)*8+4)/5)
	var acc uint32
	bits := 0
	for _, c := range b {
		acc = acc<<8 | uint32(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out = append(out, base32Alphabet[(acc>>uint(bits))&31])
		}
	}
	if bits > 0 {
		out = append(out, base32Alphabet[(acc<<uint(5-bits))&31])
	}
	return string(out)
}

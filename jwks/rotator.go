package jwks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/ticker"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/sealing"
)

// KeyView is what the Rotator decides on: the key documents as of at least
// sequence seq of the control stream (wait for the projection to reach it,
// then list). Deciding on an older view could create a second first key on
// a log that has one, so the view must never lag behind seq.
type KeyView interface {
	KeysAt(ctx context.Context, seq uint64) ([]projections.Key, error)
}

// Rotator drives the key lifecycle: on a schedule (Start) and on demand
// (RotateNow) it reads the keys, decides with plan and appends the events.
// Every append expects the versions of the keys it changes, and carries a
// DedupeID naming the decision and the key set it saw, so when several
// instances race on one log only one of them writes; the others see a
// version conflict or a duplicate and carry on.
type Rotator struct {
	log    events.Log
	view   KeyView
	sealer *sealing.Sealer
	cfg    Config
	ring   *Keyring
	logger *slog.Logger

	mu sync.Mutex // one decision at a time in this process

	life   sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// RotatorOption configures a Rotator.
type RotatorOption func(*Rotator)

// WithKeyring makes the Rotator refresh ring after each round, so this
// instance picks up the keys that it or another instance changed within
// one Interval.
func WithKeyring(ring *Keyring) RotatorOption { return func(r *Rotator) { r.ring = ring } }

// WithLogger sets where the Rotator reports what it did. Default
// slog.Default().
func WithLogger(l *slog.Logger) RotatorOption { return func(r *Rotator) { r.logger = l } }

// NewRotator returns a Rotator appending to log, deciding on view, sealing
// new keys with s (the sealing.SigningKey purpose).
func NewRotator(log events.Log, view KeyView, s *sealing.Sealer, cfg Config, opts ...RotatorOption) (*Rotator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkSealer(s); err != nil {
		return nil, err
	}
	r := &Rotator{log: log, view: view, sealer: s, cfg: cfg.withDefaults(), logger: slog.Default()}
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

// Start runs a first round before it returns, so that a server that
// listens after Start has a signing key (a fresh log gets its genesis);
// then it runs a round every Interval in its own goroutine, until ctx
// ends or Close. A failed round is logged, not returned: the next one
// retries. It returns an error if the Rotator is already running.
func (r *Rotator) Start(ctx context.Context) error {
	r.life.Lock()
	defer r.life.Unlock()
	if r.cancel != nil {
		return errors.New("jwks: rotator already started")
	}
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	r.round(ctx)
	go r.run(ctx, r.done)
	return nil
}

func (r *Rotator) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	ticker.Every(ctx, r.cfg.Interval, func() bool { r.round(ctx); return true })
}

// round runs tick and logs its failure.
func (r *Rotator) round(ctx context.Context) {
	if err := r.tick(ctx); err != nil && ctx.Err() == nil {
		r.logger.Error("key rotation round failed", "err", err)
	}
}

// Close stops the goroutine Start started and waits for it to end. It is
// safe to call more than once, and without Start.
func (r *Rotator) Close() error {
	r.life.Lock()
	defer r.life.Unlock()
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	<-r.done
	r.cancel = nil
	return nil
}

// tick is one round: decide on the current keys, append, refresh the
// keyring.
func (r *Rotator) tick(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	keys, err := r.keys(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range plan(now, keys, r.cfg) {
		if _, err := r.do(ctx, now, a); err != nil && !errors.Is(err, errLost) {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, r.refresh(ctx))...)
}

func (r *Rotator) keys(ctx context.Context) ([]projections.Key, error) {
	seq, err := r.log.LastSeq(ctx, events.Control)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys, err := r.view.KeysAt(ctx, seq)
	if err != nil {
		return nil, fmt.Errorf("jwks: keys at #%d: %w", seq, err)
	}
	return keys, nil
}

func (r *Rotator) refresh(ctx context.Context) error {
	if r.ring == nil {
		return nil
	}
	return r.ring.Refresh(ctx)
}

// Rotation is what RotateNow did.
type Rotation struct {
	// Activated is the kid that signs from now on; empty when no key could
	// sign yet and Next was scheduled instead.
	Activated string
	// Next is the kid of the new next key and ActivateAt when it will sign.
	Next       string
	ActivateAt time.Time
	// Seq is the control-stream sequence of the append: wait for the
	// projection to reach it before answering (read-your-writes).
	Seq uint64
}

// RotateNow starts a rotation at once (POST /v1/platform/keys/rotate).
// If the next key has been published for the JWKS cache lifetime (plus
// Interval) it signs from now on, the active key is retired and a new next
// key is created. Otherwise activating any key now would break clients
// that cached the JWKS, so RotateNow creates a new next key — replacing a
// next key too young to sign, which never signed anything — whose
// activate_at is the end of its publish window; the Rotator activates it
// then. RotateNow returns an error wrapping events.ErrVersionConflict when
// another instance changed the keys meanwhile (answer 409).
func (r *Rotator) RotateNow(ctx context.Context) (Rotation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	keys, err := r.keys(ctx)
	if err != nil {
		return Rotation{}, err
	}
	as := planRotateNow(now, keys, r.cfg)
	if len(as) == 0 {
		return Rotation{}, r.refresh(ctx)
	}
	rot, err := r.do(ctx, now, as...)
	if err != nil {
		if errors.Is(err, errLost) {
			err = fmt.Errorf("jwks: rotate: %w: the keys changed meanwhile", events.ErrVersionConflict)
		}
		return rot, err
	}
	return rot, r.refresh(ctx)
}

// errLost: another instance made the same decision first.
var errLost = errors.New("jwks: another instance appended first")

// do appends the events of as, in one append. It returns errLost when the
// log already holds the decision or the keys changed since they were read.
func (r *Rotator) do(ctx context.Context, now time.Time, as ...action) (Rotation, error) {
	app, rot, err := buildAll(now, as, r.cfg, r.sealer)
	if err != nil {
		return Rotation{}, err
	}
	desc := strings.Join(describeActions(as), "; ")
	res, err := r.log.Append(ctx, app)
	if errors.Is(err, events.ErrVersionConflict) || err == nil && res.Duplicate {
		r.logger.Info("key rotation: another instance was first", "action", desc)
		return Rotation{}, errLost
	}
	if err != nil {
		return Rotation{}, fmt.Errorf("jwks: %s: %w", desc, err)
	}
	r.logger.Info("key rotation", "action", desc, "next", rot.Next, "seq", res.Last())
	rot.Seq = res.Last()
	return rot, nil
}

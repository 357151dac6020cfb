package authz

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/internal/keyedmac"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/sealing"
)

// Idempotency makes POSTs with an Idempotency-Key safe to retry (API.md
// "Conventions"): the first request with a key claims it in the log
// (expecting the key's aggregate to be new, so two concurrent requests
// cannot both run), runs, and records its answer before the client sees
// it; a repeat with the same body within the retention replays that
// answer with no second effect, and a repeat with another body gets 422.
// Answers are sealed (sealing.IdempotencyAnswer), since a 201 may hold a secret
// that is shown once, and the body's fingerprint is an HMAC under a key
// of the master key (sealing.IdempotencyFingerprint), since a body may
// hold a password (a user's, a vault credential's) that a plain hash in
// the log would let anyone reading the log guess at hash speed. An answer
// that asks for a retry (a server error, a 429, a 409 of a lost race:
// httpapi.Retryable) releases the key instead, so a retry can succeed.
type Idempotency struct {
	Log     events.Log
	Store   projections.Reader
	WaitFor func(ctx context.Context, s events.Stream, seq uint64) error
	Now     func() time.Time
	// Retention is how long an answer is replayed (and its record kept
	// in the projections, which drop it by the log's clock); recorded in
	// each key's idempotency.started. Default 24 h.
	Retention time.Duration
	sealer    *sealing.Sealer
	mac       *keyedmac.MAC
}

// Idempotency-Key limits: how long an answer is replayed, and how long a
// claimed key blocks a concurrent repeat before it counts as abandoned.
const (
	idemInFlight    = time.Minute
	maxIdemKeyBytes = 255
)

// NewIdempotency seals answers with keys' sealing.IdempotencyAnswer
// sealer, each for its key's aggregate, and fingerprints bodies with the
// HMAC of keys' sealing.IdempotencyFingerprint.
func NewIdempotency(i Idempotency, keys *sealing.Keys) (*Idempotency, error) {
	if keys == nil {
		return nil, errors.New("authz: idempotency needs the master key's keys")
	}
	i.sealer = keys.Purpose(sealing.IdempotencyAnswer)
	i.mac = keyedmac.New(sha256.New, keys.Key(sealing.IdempotencyFingerprint))
	return &i, nil
}

// fingerprintPrefix marks a keyed fingerprint; a record without it holds
// the plain SHA-256 of the body that earlier releases wrote (legacy).
const fingerprintPrefix = "hmac:"

// fingerprint is what a key's record holds of body: its keyed HMAC.
func (i *Idempotency) fingerprint(body []byte) string {
	return fingerprintPrefix + base64.StdEncoding.EncodeToString(i.mac.Sum(nil, body))
}

// sameBody reports whether body is the one a record's fingerprint fp
// was taken of (a legacy record's by its plain SHA-256).
func (i *Idempotency) sameBody(fp string, body []byte) bool {
	if strings.HasPrefix(fp, fingerprintPrefix) {
		return hmac.Equal([]byte(fp), []byte(i.fingerprint(body)))
	}
	sum := sha256.Sum256(body)
	return fp == base64.StdEncoding.EncodeToString(sum[:])
}

// Middleware is route middleware for a POST, placed after authentication.
// A nil *Idempotency passes requests through.
func (i *Idempotency) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	if i == nil {
		return next
	}
	return func(c echo.Context) error {
		key := c.Request().Header.Get("Idempotency-Key")
		if key == "" {
			return next(c)
		}
		if len(key) > maxIdemKeyBytes || !printable(key) {
			return httpapi.Validation(httpapi.FieldError{Field: "Idempotency-Key", Message: "must be 1 to 255 printable ASCII characters"})
		}
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		c.Request().Body = io.NopCloser(bytes.NewReader(body))
		return i.handle(c, next, i.keyRef(c, key), body)
	}
}

// keyRef is the aggregate of one key: per tenant, caller, method and
// path, so two apps never share a key space. The caller is its authority
// (callerKey), so a replay never hands a credential to a token that could
// not have obtained it (issue 12 point 1).
func (i *Idempotency) keyRef(c echo.Context, key string) events.Ref {
	p := oauth.PrincipalOf(c)
	sum := sha256.Sum256([]byte(callerKey(p) + "\x00" + c.Request().Method + "\x00" + c.Path() + "\x00" + c.Request().URL.Path + "\x00" + key))
	return events.Ref{Tenant: p.Tenant, Type: events.AggIdempotency, ID: "idem-" + base64.RawURLEncoding.EncodeToString(sum[:24])}
}

// callerKey names a caller's authority: its actor chain (the app and the
// admins behind a service token) and the scopes its token still carries.
// Another token of the same app with the same scopes replays; a narrower
// token, or a service token of the app minted by someone else, does not.
func callerKey(p oauth.Principal) string {
	return strings.Join(oauth.ActorOf(p).Chain(), ",") + "\x00" + strings.Join(slices.Sorted(slices.Values(p.Scopes)), " ")
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// handle claims the key, or replays or refuses according to its record.
func (i *Idempotency) handle(c echo.Context, next echo.HandlerFunc, ref events.Ref, body []byte) error {
	ctx := c.Request().Context()
	done := false
	res, err := command.Run(ctx, command.Deps{Log: i.Log, WaitFor: i.WaitFor}, func(ctx context.Context, attempt int) (command.Decision, error) {
		expect, answered, err := i.lookup(ctx, c, ref, body)
		if done = answered; done || err != nil {
			return command.Decision{}, err
		}
		if expect == 0 && attempt > 0 {
			// The key has events in the log but, caught up, no record:
			// the projections dropped it when its retention ended.
			// Claim it after its last event.
			if expect, err = events.LastSeq(ctx, i.Log, ref); err != nil {
				return command.Decision{}, err
			}
		}
		ev, err := events.New(ref, oauth.ActorOf(oauth.PrincipalOf(c)), i.Now(), &events.IdempotencyStarted{
			Method: c.Request().Method, Path: c.Request().URL.Path, Fingerprint: i.fingerprint(body), RetainSeconds: i.retainSeconds()})
		return command.Decision{Append: events.Append{Events: []events.Event{ev}, Expect: []events.Expect{{Ref: ref, Seq: expect}}}}, err
	})
	switch {
	case errors.Is(err, command.ErrContended):
		return httpapi.Conflict("a request with this Idempotency-Key is in progress").AsRetry().WithCause(err)
	case err != nil || done:
		return err
	}
	return i.run(c, next, ref, res.Last())
}

// retainSeconds is Retention in seconds, 0 for the default.
func (i *Idempotency) retainSeconds() int64 { return int64(i.Retention / time.Second) }

// lookup reads the key's record: it answers a replay, a 422 or a 409 itself
// (done), or returns the version a new claim must expect.
func (i *Idempotency) lookup(ctx context.Context, c echo.Context, ref events.Ref, body []byte) (uint64, bool, error) {
	rec, err := projections.GetIdempotency(ctx, i.Store, ref)
	if errors.Is(err, projections.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	now := i.Now()
	switch {
	case rec.State == projections.IdemCompleted && now.Before(rec.ExpiresAt):
		if !i.sameBody(rec.Fingerprint, body) {
			return 0, true, httpapi.IdempotencyKeyReused()
		}
		return 0, true, i.replay(c, ref, rec)
	case rec.State == projections.IdemStarted && now.Sub(rec.StartedAt) < idemInFlight:
		if !i.sameBody(rec.Fingerprint, body) {
			return 0, true, httpapi.IdempotencyKeyReused()
		}
		return 0, true, httpapi.Conflict("a request with this Idempotency-Key is in progress; retry later").AsRetry()
	}
	return rec.LastSeq, false, nil // released, expired or abandoned: claim it again
}

// retryAnswerKey is the echo context key of AskRetry.
const retryAnswerKey = "authz.idempotency.retry"

// AskRetry marks the answer c's handler writes as one that asks for the
// same request again though its status does not say so (a GraphQL answer
// is a 200 with its errors in the body): the key is released as for a
// Retryable error, not held to the answer.
func AskRetry(c echo.Context) { c.Set(retryAnswerKey, true) }

// run executes the request holding the key, records its answer, then
// sends it.
func (i *Idempotency) run(c echo.Context, next echo.HandlerFunc, ref events.Ref, seq uint64) error {
	res := c.Response()
	real := res.Writer
	buf := httpapi.NewBuffer(real.Header())
	res.Writer = buf
	err := next(c)
	if err != nil {
		c.Error(err)
	}
	res.Writer = real
	retry := httpapi.Retryable(err) || httpapi.RetryStatus(buf.Status) || c.Get(retryAnswerKey) == true
	if err := i.record(c.Request().Context(), c, ref, seq, buf, retry); err != nil {
		c.Logger().Error("idempotency: record answer: ", err)
	}
	real.WriteHeader(buf.Status)
	_, err = real.Write(buf.Body.Bytes())
	return err
}

// record appends the answer, or releases the key when the answer asks
// for the same request again (retry: a 5xx, a 429, a lost race), which is
// not the request's outcome: a retry with the key runs it again (as the
// Idempotency-Key draft and Stripe have it).
func (i *Idempotency) record(ctx context.Context, c echo.Context, ref events.Ref, seq uint64, w *httpapi.Buffer, retry bool) error {
	var p events.Payload = &events.IdempotencyReleased{Status: w.Status}
	if !retry {
		sealed, err := i.sealer.Seal(ref.String(), w.Body.Bytes())
		if err != nil {
			return err
		}
		h := w.Header()
		p = &events.IdempotencyCompleted{Status: w.Status, ContentType: h.Get("Content-Type"),
			ETag: h.Get("ETag"), Location: h.Get("Location"), BodySealed: sealed}
	}
	ev, err := events.New(ref, oauth.ActorOf(oauth.PrincipalOf(c)), i.Now(), p)
	if err != nil {
		return err
	}
	// One try: the claim at seq is this request's; a repeat sent once
	// this answer is out must find the record completed, not still
	// started (409): read-your-writes.
	_, err = command.Run(context.WithoutCancel(ctx), command.Deps{Log: i.Log, WaitFor: i.WaitFor, Attempts: 1}, func(context.Context, int) (command.Decision, error) {
		return command.Decision{Append: events.Append{Events: []events.Event{ev}, Expect: []events.Expect{{Ref: ref, Seq: seq}}}}, nil
	})
	return err
}

// replay answers with a recorded answer.
func (i *Idempotency) replay(c echo.Context, ref events.Ref, rec projections.IdempotencyRecord) error {
	body, err := i.sealer.Open(ref.String(), rec.BodySealed)
	if err != nil {
		return fmt.Errorf("authz: idempotency record of %s: %w", ref, err)
	}
	h := c.Response().Header()
	h.Set("Idempotent-Replayed", "true")
	for name, v := range map[string]string{"ETag": rec.ETag, "Location": rec.Location} {
		if v != "" {
			h.Set(name, v)
		}
	}
	return c.Blob(rec.Status, rec.ContentType, body)
}

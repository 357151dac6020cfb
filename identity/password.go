package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters of new password hashes: RFC 9106 §4's second
// recommended option (the one for memory-constrained settings): 64 MiB,
// three passes, four lanes, a 128-bit salt and a 256-bit tag. The
// memory each hash takes is what the concurrency bound (Hasher.Limit)
// multiplies; stored hashes carry their own parameters (PHC string), so
// changing these never breaks a stored password.
const (
	ArgonMemoryKiB = 64 * 1024
	ArgonTime      = 3
	ArgonThreads   = 4
	argonSaltLen   = 16
	argonKeyLen    = 32
)

// ErrBusy is returned when no hashing slot freed within the wait: the
// caller answers 503 rather than queue more memory.
var ErrBusy = errors.New("identity: too many password hashes in progress")

// ErrMismatch is a password that does not match its hash.
var ErrMismatch = errors.New("identity: password does not match")

// Hasher computes and verifies argon2id password hashes, at most Limit
// at once; a caller waits at most Wait for a slot.
type Hasher struct {
	slots chan struct{}
	wait  time.Duration
}

// NewHasher returns a Hasher computing at most limit hashes at once
// (≤ 0: GOMAXPROCS) and waiting at most wait for a slot (≤ 0: 5 s).
func NewHasher(limit int, wait time.Duration) *Hasher {
	if limit <= 0 {
		limit = runtime.GOMAXPROCS(0)
	}
	if wait <= 0 {
		wait = 5 * time.Second
	}
	return &Hasher{slots: make(chan struct{}, limit), wait: wait}
}

// Limit is the number of hashes computed at once.
func (h *Hasher) Limit() int { return cap(h.slots) }

// acquire takes a slot within the wait, or fails with ErrBusy (or ctx's
// error when the caller left first).
func (h *Hasher) acquire(ctx context.Context) (func(), error) {
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	default:
	}
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Hash returns the PHC string of password with a fresh salt:
// $argon2id$v=19$m=65536,t=3,p=4$<salt>$<tag> (unpadded standard base64).
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	tag := argon2.IDKey([]byte(password), salt, ArgonTime, ArgonMemoryKiB, ArgonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, ArgonMemoryKiB, ArgonTime, ArgonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(tag)), nil
}

// Verify checks password against phc (a string Hash returned, of these
// or other parameters), comparing the tags in constant time: nil on a
// match, ErrMismatch otherwise, ErrBusy when no slot freed in time.
func (h *Hasher) Verify(ctx context.Context, phc, password string) error {
	p, err := parsePHC(phc)
	if err != nil {
		return err
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	tag := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.tag)))
	if subtle.ConstantTimeCompare(tag, p.tag) != 1 {
		return ErrMismatch
	}
	return nil
}

type phcParams struct {
	memory, time uint32
	threads      uint8
	salt, tag    []byte
}

// maxArgonMemoryKiB bounds the memory a stored hash may ask for (1 GiB),
// so a corrupt value cannot take the server's memory.
const maxArgonMemoryKiB = 1 << 20

// parsePHC reads an argon2id PHC string.
func parsePHC(s string) (phcParams, error) {
	bad := func(why string) (phcParams, error) {
		return phcParams{}, fmt.Errorf("identity: not an argon2id PHC string: %s", why)
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return bad("shape")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("version")
	}
	var p phcParams
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return bad("parameter " + k)
		}
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > 255 {
				return bad("parameter p")
			}
			p.threads = uint8(n)
		default:
			return bad("parameter " + k)
		}
	}
	if p.memory == 0 || p.time == 0 || p.threads == 0 || p.memory > maxArgonMemoryKiB || p.time > 64 {
		return bad("parameters")
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(p.salt) < 8 {
		return bad("salt")
	}
	if p.tag, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.tag) < 16 {
		return bad("tag")
	}
	return p, nil
}

package oauth

import (
	"context"
	"sync"
)

// Memo holds what one token request has read, for the later steps of the
// same request. fosite runs a token request through several steps
// (client authentication, the grant handler's read of its code or refresh
// token, the population of the answer, the ID token), and each used to
// read the same views again: a refresh rotation read the app twice, the
// user twice and the grant three times. A Memo lives in the request's
// context and dies with it (milliseconds): it never carries a view from
// one request to another, so nothing read in it is honoured later than
// the request that read it.
//
// A nil *Memo (outside a token request) keeps nothing: Load misses and
// Store does nothing.
type Memo struct {
	mu     sync.Mutex
	client *Client
	// A request keeps a few values (the user, a grant, a code's grant):
	// the first memoSlots in place, the rest in more.
	n    int
	keys [memoSlots]any
	vals [memoSlots]any
	more map[any]any
}

// memoSlots is how many values a Memo holds without a map.
const memoSlots = 4

type memoKey struct{}

// withMemo returns ctx with a new, empty Memo.
func withMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, memoKey{}, &Memo{})
}

// MemoOf returns the Memo of the token request ctx belongs to, nil
// outside one.
func MemoOf(ctx context.Context) *Memo {
	m, _ := ctx.Value(memoKey{}).(*Memo)
	return m
}

// Load returns the value stored under key.
func (m *Memo) Load(key any) (any, bool) {
	if m == nil {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if i := m.slot(key); i >= 0 {
		return m.vals[i], true
	}
	v, ok := m.more[key]
	return v, ok
}

// Store keeps v under key for the rest of the request.
func (m *Memo) Store(key, v any) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch i := m.slot(key); {
	case i >= 0:
		m.vals[i] = v
	case m.n < memoSlots:
		m.keys[m.n], m.vals[m.n] = key, v
		m.n++
	default:
		if m.more == nil {
			m.more = make(map[any]any)
		}
		m.more[key] = v
	}
}

// slot is the index of key's value in place, -1 when it has none there.
func (m *Memo) slot(key any) int {
	for i := range m.n {
		if m.keys[i] == key {
			return i
		}
	}
	return -1
}

// Remember returns the value the token request of ctx keeps under key,
// or reads it and, when the read succeeds, keeps it for the rest of the
// request (outside a token request it only reads).
func Remember[V any](ctx context.Context, key any, read func() (V, error)) (V, error) {
	m := MemoOf(ctx)
	if v, ok := m.Load(key); ok {
		return v.(V), nil
	}
	v, err := read()
	if err == nil {
		m.Store(key, v)
	}
	return v, err
}

// authenticated records the client the request authenticated as.
func (m *Memo) authenticated(cl *Client) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.client = cl
}

// clientOf returns the client the request authenticated as if its id is
// id, nil otherwise.
func (m *Memo) clientOf(id string) *Client {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client == nil || m.client.ClientID != id {
		return nil
	}
	return m.client
}

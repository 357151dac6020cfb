package loadgen

import (
	"bytes"
	"context"
	"net/http"

	"github.com/gatehouse/gatehouse/identity"
)

// The person side's remaining figures (issue 14): the login page and the
// cost of one password hash under the server's concurrency bound.

const loginPath = "/login"

// loginPageCheck: a login page is the form with its CSRF token.
func loginPageCheck(body []byte) bool {
	return bytes.Contains(body, []byte(`name="csrf_token"`)) && bytes.Contains(body, []byte(`id="password"`))
}

// preparePasswordHash measures argon2id itself, in this process: each
// step is one identity.Hasher.Hash (RFC 9106's second recommended
// parameters, the server's) through a Hasher bounded as the server's is
// by default (GATEHOUSE_PASSWORD_HASH_CONCURRENCY unset: GOMAXPROCS), so
// with --concurrency above the bound the latency includes the wait for a
// slot, as a login flood's does. The server is not loaded: a login
// request costs one such hash plus a page, and is throttled per account
// and per address, which would make a load of logins measure the
// throttle.
func preparePasswordHash(context.Context, *http.Client, benchConfig) (target, error) {
	h := identity.NewHasher(0, 0)
	return target{step: func(ctx context.Context) string {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			return "hash: " + err.Error()
		}
		return ""
	}}, nil
}

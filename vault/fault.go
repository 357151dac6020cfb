package vault

import (
	"context"
	"os"

	"github.com/gatehouse/gatehouse/events"
)

// The crash hook of the kill -9 test (e2e TestVaultKill9AfterRefresh).
// A refresh appends the provider's answer before it does anything else
// (refresher.go, step 3): the only moment a crash can lose a token set
// the provider issued is between the provider's answer and that append's
// acknowledgement, which no design can close (the tokens exist only in
// the answer until then). The hook kills the process at the first
// instant after it: the moment the append of a refreshed token set is
// acknowledged, before the projections apply it, before the worker or
// the HTTP answer see it. The test then restarts the server and checks
// that the token set the provider issued is the one stored and that its
// refresh token (rotated by the provider, with reuse detection) still
// refreshes.
//
// It is inert unless GATEHOUSE_VAULT_FAULT is exactly
// "kill-after-refresh-stored"; it is not a setting of the server
// (server.Config) and must never be set in production.

// FaultEnv is the environment variable of the crash hook.
const FaultEnv = "GATEHOUSE_VAULT_FAULT"

// FaultKillAfterRefreshStored is its one value.
const FaultKillAfterRefreshStored = "kill-after-refresh-stored"

// WithFault returns log as it is, or wrapped with the crash hook when
// lookup(FaultEnv) asks for it.
func WithFault(log events.Log, lookup func(string) string) events.Log {
	if lookup(FaultEnv) != FaultKillAfterRefreshStored {
		return log
	}
	return crashingLog{log}
}

// crashingLog SIGKILLs this process once an append holding a refreshed
// token set is durable.
type crashingLog struct{ events.Log }

func (l crashingLog) Append(ctx context.Context, a events.Append) (events.Result, error) {
	res, err := l.Log.Append(ctx, a)
	if err != nil {
		return res, err
	}
	for _, e := range a.Events {
		if e.Type != "credential_refresh.stored" {
			continue
		}
		p, derr := events.Decode(e)
		if ts, ok := p.(*events.CredentialRefreshStored); derr == nil && ok && (ts.Reason == "refreshed" || ts.Reason == "forced") {
			// Process.Kill is SIGKILL on Unix (TerminateProcess on Windows).
			if self, ferr := os.FindProcess(os.Getpid()); ferr == nil {
				_ = self.Kill()
			}
			select {} // the signal is on its way: nothing else runs here
		}
	}
	return res, nil
}

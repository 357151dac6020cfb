package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
)

// The leak watch (DESIGN.md invariant 3, issue 4): every secret a test is
// given by any server is recorded from the answers themselves (api.do
// records the "client_secret", "secret", "access_token" and
// "refresh_token" strings of every JSON answer: apps, tenants, rotations,
// webhooks, service tokens; the harness adds each server's master key and
// the generated bootstrap secrets its stdout shows). At the end of the run
// (TestMain), with every server stopped, each server's whole event log is
// searched for every recorded secret and for private key material three
// ways: the raw bytes of every file of its data directory (the JetStream
// store keeps message bodies as written when its streams are not
// compressed), the events decoded by an embedded NATS server opened on
// that directory, and everything every process of it wrote on stdout and
// stderr. The only allowed sighting is the contract's: a generated
// bootstrap secret on the stdout of the start that created it. A server
// holding upstream credentials (the vault) is also searched for any JWT:
// the provider's tokens it stores sealed (watchUpstreamTokens). The
// vault's interactive grants add theirs (vault_interactive_test.go): the
// tokens a provider of the test's own hands to the callback, the PKCE
// verifiers it is shown, and the private keys of certificate credentials.

var leaks = &leakWatch{secrets: map[string]bool{adminSecret: true}}

type leakWatch struct {
	mu      sync.Mutex
	secrets map[string]bool
	servers []*server
	// upstream are the servers that hold upstream credentials (the
	// vault): their stores and logs must hold no JWT at all, since the
	// provider's access and refresh tokens (a Gatehouse upstream's are
	// JWTs) are sealed and the test never sees them to record them.
	upstream map[*server]bool
}

// jwtPrefix starts every JWT whose header begins {"alg": base64url of
// `{"alg":"`.
const jwtPrefix = "eyJhbGciOi"

// watchUpstreamTokens puts s's stores under the upstream-token watch.
func watchUpstreamTokens(s *server) {
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	if leaks.upstream == nil {
		leaks.upstream = map[*server]bool{}
	}
	leaks.upstream[s] = true
}

// secretKeys are the JSON members whose string values are secrets.
var secretKeys = map[string]bool{"client_secret": true, "secret": true, "access_token": true, "refresh_token": true,
	"private_key_pem": true, "code_verifier": true}

// minSecret is the shortest string recorded: shorter ones would match by
// chance.
const minSecret = 16

// add records one secret.
func (l *leakWatch) add(s string) {
	if len(s) < minSecret {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.secrets[s] = true
}

// record remembers every secret in a JSON answer body.
func (l *leakWatch) record(body []byte) {
	if !bytes.Contains(body, []byte("secret")) && !bytes.Contains(body, []byte("_token")) {
		return
	}
	var v any
	if json.Unmarshal(body, &v) != nil {
		return
	}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && secretKeys[k] {
					l.add(s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
}

func (l *leakWatch) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.secrets))
	for s := range l.secrets {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// watch puts s under the leak watch of the end of the run.
func watch(s *server) {
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	leaks.servers = append(leaks.servers, s)
}

// workDir returns a new directory under work for t, which the end of the
// run removes (t.TempDir would go before the leak watch looks at it).
func workDir(t *testing.T, what string) string {
	t.Helper()
	prefix := strings.NewReplacer("/", "-", " ", "_").Replace(tail(t.Name(), 60))
	dir, err := os.MkdirTemp(work, prefix+"-"+what+"-")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// generatedSecret finds the bootstrap secret a start printed (see
// printFirstToken in package server).
var generatedSecret = regexp.MustCompile(`client_secret:\s+(\S+)`)

// checkLeaks stops every server of the run that still runs, then searches
// each for every recorded secret and private key material.
func checkLeaks() error {
	leaks.mu.Lock()
	servers := slices.Clone(leaks.servers)
	leaks.mu.Unlock()
	for _, s := range servers {
		s.kill()
	}
	// Generated bootstrap secrets are secrets everywhere but on the stdout
	// of the start that printed them.
	allowed := map[*process]string{}
	for _, s := range servers {
		for _, p := range s.Starts {
			if m := generatedSecret.FindStringSubmatch(p.stdout.String()); m != nil {
				leaks.add(m[1])
				allowed[p] = m[1]
			}
		}
	}
	secrets := leaks.all()
	var report []string
	for _, s := range servers {
		texts := map[string]string{}
		for i, p := range s.Starts {
			out := p.stdout.String()
			if g := allowed[p]; g != "" {
				out = strings.ReplaceAll(out, g, "<the generated bootstrap secret>")
			}
			texts[fmt.Sprintf("stdout of start %d", i+1)] = out
			texts[fmt.Sprintf("stderr of start %d", i+1)] = p.stderr.String()
		}
		found, err := findLeaks(s.Dir, secrets, texts)
		if err != nil {
			report = append(report, fmt.Sprintf("%s (%s): %v", s.name, s.Dir, err))
		}
		logDir := s.Dir
		if s.logDir != "" {
			logDir = s.logDir
			more, err := findLeaks(logDir, secrets, nil)
			if err != nil {
				report = append(report, fmt.Sprintf("%s (%s): %v", s.name, logDir, err))
			}
			found = append(found, more...)
		}
		evs, err := decodeLog(logDir, streamPrefix(s))
		if err != nil {
			report = append(report, fmt.Sprintf("%s (%s): decode the log: %v", s.name, s.Dir, err))
		} else if len(evs) == 0 && s.wasReady() {
			report = append(report, fmt.Sprintf("%s (%s): no event decoded from a server that was ready", s.name, s.Dir))
		}
		found = append(found, findInEvents(evs, secrets)...)
		leaks.mu.Lock()
		upstream := leaks.upstream[s]
		leaks.mu.Unlock()
		if upstream { // an upstream token in its store or its events
			more, err := findLeaks(logDir, []string{jwtPrefix}, nil)
			if err != nil {
				report = append(report, fmt.Sprintf("%s (%s): %v", s.name, logDir, err))
			}
			found = append(found, more...)
			found = append(found, findInEvents(evs, []string{jwtPrefix})...)
		}
		for _, f := range found {
			report = append(report, fmt.Sprintf("%s (%s): %s", s.name, s.Dir, f))
		}
	}
	if len(report) > 0 {
		return fmt.Errorf("%d servers, %d secrets watched; found:\n  %s", len(servers), len(secrets), strings.Join(report, "\n  "))
	}
	fmt.Fprintf(os.Stderr, "leak watch: %d servers, %d secrets: none in the clear\n", len(servers), len(secrets))
	return nil
}

// wasReady reports whether a start of s got as far as listening.
func (s *server) wasReady() bool {
	return slices.ContainsFunc(s.Starts, func(p *process) bool {
		return strings.Contains(p.stdout.String(), "listening on "+s.URL)
	})
}

// streamPrefix is the GATEHOUSE_STREAM_PREFIX of s.
func streamPrefix(s *server) string {
	for _, kv := range s.env {
		if v, ok := strings.CutPrefix(kv, "GATEHOUSE_STREAM_PREFIX="); ok {
			return v
		}
	}
	return "gh"
}

// Private key material: a PEM block, or a JWK (an object with "kty") with
// a private member (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2 for OKP
// "d"), written plainly or escaped inside a JSON string.
var (
	pemPrivate = regexp.MustCompile(`PRIVATE KEY-----`)
	flatObject = regexp.MustCompile(`\{[^{}]*\}`)
	jwkKty     = regexp.MustCompile(`\\?"kty\\?"\s*:`)
	jwkPrivate = regexp.MustCompile(`\\?"(d|p|q|dp|dq|qi|k)\\?"\s*:`)
)

// privateKeyMaterial describes the private key material in b, if any.
func privateKeyMaterial(b []byte) []string {
	var out []string
	if pemPrivate.Match(b) {
		out = append(out, "a PEM private key")
	}
	for _, obj := range flatObject.FindAll(b, -1) {
		if jwkKty.Match(obj) {
			if m := jwkPrivate.FindSubmatch(obj); m != nil {
				out = append(out, fmt.Sprintf("a JWK with the private member %q", m[1]))
				break
			}
		}
	}
	return out
}

// findLeaks searches every file under dir and every text for secrets (in
// the clear) and private key material. It describes what it found without
// the secret itself.
func findLeaks(dir string, secrets []string, texts map[string]string) ([]string, error) {
	var found []string
	search := func(where string, b []byte) {
		for i, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				found = append(found, fmt.Sprintf("recorded secret #%d (%s…) in %s", i, s[:6], where))
			}
		}
		for _, m := range privateKeyMaterial(b) {
			found = append(found, fmt.Sprintf("%s in %s", m, where))
		}
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		search(path, b)
		return nil
	})
	names := make([]string, 0, len(texts))
	for name := range texts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		search(name, []byte(texts[name]))
	}
	return found, err
}

// findInEvents searches the decoded events, envelope and data, for secrets
// and private key material.
func findInEvents(evs []events.Event, secrets []string) []string {
	var found []string
	for _, e := range evs {
		b, err := json.Marshal(e)
		if err != nil {
			found = append(found, fmt.Sprintf("event %s does not encode: %v", e.ID, err))
			continue
		}
		where := fmt.Sprintf("event %s (%s of %s/%s/%s)", e.ID, e.Type, e.Aggregate.Tenant, e.Aggregate.Type, e.Aggregate.ID)
		for i, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				found = append(found, fmt.Sprintf("recorded secret #%d (%s…) in %s", i, s[:6], where))
			}
		}
		for _, m := range privateKeyMaterial(b) {
			found = append(found, fmt.Sprintf("%s in %s", m, where))
		}
	}
	return found
}

// decodeLog reads every event of both streams of the log in dir, which no
// process uses any more, through an embedded NATS server opened on it.
// Streams must not be compressed: the byte search of findLeaks relies on
// it (the decoded events are searched either way).
func decodeLog(dir, prefix string) ([]events.Event, error) {
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); errors.Is(err, fs.ErrNotExist) {
		return nil, nil // the server never got as far as its store
	}
	emb, err := events.StartEmbedded(events.EmbeddedConfig{Dir: dir})
	if err != nil {
		return nil, err
	}
	defer emb.Shutdown()
	nc, err := emb.Connect()
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log, err := events.Open(ctx, nc, events.Config{Prefix: prefix})
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	var all []events.Event
	for _, st := range events.Streams {
		str, err := js.Stream(ctx, log.StreamName(st))
		if err != nil {
			return nil, err
		}
		if c := str.CachedInfo().Config.Compression; c != jetstream.NoCompression {
			return nil, fmt.Errorf("stream %s is compressed (%v): the byte search of its store files sees nothing; search them through a server only", log.StreamName(st), c)
		}
		evs, err := followToEnd(ctx, log, st)
		if err != nil {
			return nil, err
		}
		all = append(all, evs...)
	}
	return all, nil
}

// followToEnd returns every event of stream st up to its last sequence.
func followToEnd(ctx context.Context, log *events.JetStream, st events.Stream) ([]events.Event, error) {
	last, err := log.LastSeq(ctx, st)
	if err != nil || last == 0 {
		return nil, err
	}
	var out []events.Event
	done := errors.New("done")
	err = log.Follow(ctx, st, 0, func(_ context.Context, e events.Event) error {
		out = append(out, e)
		if e.Seq >= last && !e.More {
			return done
		}
		return nil
	})
	if !errors.Is(err, done) {
		return nil, fmt.Errorf("follow %s to %d: %v", st, last, err)
	}
	return out, nil
}

// TestLeakWatchFindsPlantedSecrets shows the watch can fail: a secret, a
// private JWK and a PEM key planted in a store file, in a process's output
// and in an event of a real log are found; a public JWK, a generated
// secret where the contract prints it, and a clean log are not.
func TestLeakWatchFindsPlantedSecrets(t *testing.T) {
	secret := "ghcs_planted-secret-0123456789abcdef"
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "jetstream", "blk"), 0o755); err != nil {
		t.Fatal(err)
	}
	store := `xx{"jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"X","y":"Y"},{"kty":"OKP","crv":"Ed25519","x":"X","d":"c2VjcmV0"}]}}` + secret
	if err := os.WriteFile(filepath.Join(dir, "jetstream", "blk", "1.blk"), []byte(store), 0o644); err != nil {
		t.Fatal(err)
	}
	found, err := findLeaks(dir, []string{secret}, map[string]string{
		"stderr": `{"level":"INFO","msg":"x","secret":"` + secret + `"}`,
		"stdout": "-----BEGIN PRIVATE KEY-----\nMIIE…",
		"clean":  `{"jwk":"{\"kty\":\"EC\",\"x\":\"X\"}","d":"not a JWK member"}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"secret #0 (ghcs_p…) in " + dir, `JWK with the private member "d" in ` + dir, "secret #0 (ghcs_p…) in stderr", "PEM private key in stdout"}
	if !containsAll(found, want) || len(found) != len(want) {
		t.Fatalf("found %q\nwant %q", found, want)
	}
	if got := privateKeyMaterial([]byte(`"{\"kty\":\"RSA\",\"n\":\"N\",\"qi\":\"QI\"}"`)); len(got) != 1 {
		t.Errorf("an escaped private RSA JWK gave %v", got)
	}

	w := &leakWatch{secrets: map[string]bool{}}
	w.record([]byte(`{"id":"x","admin_app":{"client_secret":"ghcs_0123456789abcdefXYZ"},"secret":"whsec_0123456789abcdefghij","access_token":"eyJ0eXAiOiJhdCtqd3QifQ.e30.sig","name":"short","client_secret_x":"not a secret member"}`))
	if got := w.all(); len(got) != 3 {
		t.Fatalf("recorded %v, want the nested client_secret, the webhook secret and the access token", got)
	}

	// A real log: one event holding the secret in its data, one clean.
	logDir := t.TempDir()
	plantInLog(t, logDir, secret)
	evs, err := decodeLog(logDir, "gh")
	if err != nil || len(evs) != 3 {
		t.Fatalf("decodeLog: %d events, %v", len(evs), err)
	}
	found = findInEvents(evs, []string{secret, "never-written-0123456789"})
	if len(found) != 1 || !strings.Contains(found[0], "secret #0") || !strings.Contains(found[0], "app.created") {
		t.Fatalf("findInEvents = %q, want the planted secret in the app.created event", found)
	}
	found, err = findLeaks(logDir, []string{secret}, nil)
	if err != nil || len(found) == 0 {
		t.Fatalf("the byte search of an uncompressed store missed the planted secret: %v %v", found, err)
	}
	if evs, err := decodeLog(t.TempDir(), "gh"); err != nil || len(evs) != 0 {
		t.Fatalf("decodeLog of a directory without a store = %d events, %v", len(evs), err)
	}
}

// plantInLog writes, through an embedded server on dir, an app.created
// whose metadata holds secret, a clean app.deleted and a packed
// token.minted, then stops the server.
func plantInLog(t *testing.T, dir, secret string) {
	t.Helper()
	emb, err := events.StartEmbedded(events.EmbeddedConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	nc, err := emb.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	log, err := events.Open(t.Context(), nc, events.Config{Prefix: "gh"})
	if err != nil {
		t.Fatal(err)
	}
	ref := events.Ref{Tenant: "acme", Type: events.AggApp, ID: "app_1"}
	now := time.Now()
	meta := json.RawMessage(`{"note":"` + secret + `"}`)
	for _, p := range []events.Payload{events.AppCreated{AppSettings: events.AppSettings{ClientID: "cl_1", Name: "one"}, Metadata: meta}, events.AppDeleted{ClientID: "cl_1"}} {
		if _, err := log.Append(t.Context(), events.Append{Events: []events.Event{events.MustNew(ref, events.System, now, p)}}); err != nil {
			t.Fatal(err)
		}
	}
	tok := events.MustNew(events.Ref{Tenant: "acme", Type: events.AggToken, ID: "app_1"}, events.System, now,
		events.TokenMinted{JTI: "j1", AppID: "app_1", ClientID: "cl_1", Subject: "cl_1", GrantType: "client_credentials", ExpiresAt: now})
	if _, err := log.AppendPacked(t.Context(), []events.Event{tok}); err != nil {
		t.Fatal(err)
	}
}

// containsAll reports whether every wanted fragment is in some found line.
func containsAll(found, want []string) bool {
	for _, w := range want {
		ok := false
		for _, f := range found {
			if strings.Contains(f, w) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

package events_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// The appender child of TestKill9Durability is configured by environment.
const (
	appenderDirEnv    = "GATEHOUSE_TEST_APPENDER_DIR"
	appenderPrefixEnv = "GATEHOUSE_TEST_APPENDER_PREFIX"
	// appenderLifetime ends an appender whose parent died without killing it.
	appenderLifetime = 2 * time.Minute
)

// runAppender starts the embedded server on dir, and appends from several
// goroutines as fast as it can: single events (new aggregates, and a chain
// of events on one aggregate each with its expected version) and atomic
// batches of token mints with Log.Append, and token mints through a
// GroupCommitter (packed: many in one message) from groupCallers more.
// After each acknowledged append it writes one line per event to stdout,
// in one write:
//
//	ack <stream> <seq> <tenant> <type> <aggregate id> <event id> <append|packed>
//
// It never returns normally: it runs until it is killed.
func runAppender(dir, prefix string) int {
	time.AfterFunc(appenderLifetime, func() { os.Exit(3) })
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "appender:", err)
		return 2
	}
	e, err := events.StartEmbedded(events.EmbeddedConfig{Dir: dir})
	if err != nil {
		return fail(err)
	}
	nc, err := e.Connect()
	if err != nil {
		return fail(err)
	}
	ctx := context.Background()
	l, err := events.Open(ctx, nc, events.Config{Prefix: prefix})
	if err != nil {
		return fail(err)
	}
	var out sync.Mutex
	errs := make(chan error, 1)
	for w := range 4 {
		go func() { errs <- appendForever(ctx, l, w, &out) }()
	}
	g := events.NewGroupCommitter(l, 0, 0)
	if err := g.Start(context.Background()); err != nil {
		return fail(err)
	}
	for range groupCallers {
		go func() { errs <- mintForever(ctx, g, &out) }()
	}
	return fail(<-errs)
}

// groupCallers is how many goroutines of the appender mint through its
// GroupCommitter.
const groupCallers = 16

// mintForever appends token mints one by one through g.
func mintForever(ctx context.Context, g *events.GroupCommitter, out *sync.Mutex) error {
	for {
		ref := events.Ref{Tenant: "acme", Type: events.AggToken, ID: events.NewID("tok")}
		e := appenderEvent(ref)
		seq, err := g.Append(ctx, e)
		if err != nil {
			return fmt.Errorf("group commit: %w", err)
		}
		out.Lock()
		_, err = fmt.Fprintf(os.Stdout, "ack %s %d %s %s %s %s packed\n", events.HighVolume, seq, ref.Tenant, ref.Type, ref.ID, e.ID)
		out.Unlock()
		if err != nil {
			return err
		}
	}
}

func appendForever(ctx context.Context, l events.Log, worker int, out *sync.Mutex) error {
	chain := events.Ref{Tenant: fmt.Sprintf("t%d", worker), Type: events.AggApp, ID: events.NewID("app")}
	var version uint64
	for i := 0; ; i++ {
		var a events.Append
		switch i % 3 {
		case 0:
			ref := events.Ref{Tenant: "acme", Type: events.AggApp, ID: events.NewID("app")}
			a = events.Append{Events: []events.Event{appenderEvent(ref)}, Expect: []events.Expect{{Ref: ref}}}
		case 1:
			a = events.Append{Events: []events.Event{appenderEvent(chain)}, Expect: []events.Expect{{Ref: chain, Seq: version}}}
		default:
			for range 5 {
				ref := events.Ref{Tenant: "acme", Type: events.AggToken, ID: events.NewID("tok")}
				a.Events = append(a.Events, appenderEvent(ref))
				a.Expect = append(a.Expect, events.Expect{Ref: ref})
			}
		}
		r, err := l.Append(ctx, a)
		if err != nil {
			return fmt.Errorf("worker %d append %d: %w", worker, i, err)
		}
		if i%3 == 1 {
			version = r.Last()
		}
		var b strings.Builder
		for j, e := range a.Events {
			ref := e.Aggregate
			fmt.Fprintf(&b, "ack %s %d %s %s %s %s append\n", r.Stream, r.Seqs[j], ref.Tenant, ref.Type, ref.ID, e.ID)
		}
		out.Lock()
		_, err = os.Stdout.WriteString(b.String())
		out.Unlock()
		if err != nil {
			return err
		}
	}
}

func appenderEvent(ref events.Ref) events.Event {
	if ref.Type == events.AggToken {
		return events.MustNew(ref, events.System, time.Now(), events.TokenMinted{
			JTI: ref.ID, AppID: "app_1", ClientID: "client_1", Subject: "client_1",
			GrantType: "client_credentials", Scopes: []string{"read"}, ExpiresAt: time.Now().Add(time.Hour),
		})
	}
	name := events.NewID("name")
	return events.MustNew(ref, events.System, time.Now(), events.AppUpdated{Name: &name})
}

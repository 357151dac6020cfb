// Command proxyref serves the two reference points of
// scripts/proxy-ceiling.sh, which measures the credential proxy against
// other proxies on the same upstream and the same machine:
//
//	proxyref upstream ADDR AUTHORIZATION
//	    the upstream API of `gatehouse bench --scenario proxy`
//	    (loadgen.ServeUpstream): /api/items answers 1 KiB of JSON when the
//	    Authorization header is exactly AUTHORIZATION, 401 otherwise; on
//	    SIGINT or SIGTERM it prints how many requests it refused
//	proxyref proxy ADDR UPSTREAM AUTHORIZATION
//	    the least a Go proxy is: net/http/httputil's ReverseProxy to
//	    UPSTREAM, setting the Authorization header
//
// Neither is part of the server.
package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/loadgen"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "proxyref:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch {
	case len(args) == 3 && args[0] == "upstream":
		refused, err := loadgen.ServeUpstream(ctx, args[1], args[2])
		fmt.Printf("upstream refused %d requests\n", refused)
		return err
	case len(args) == 4 && args[0] == "proxy":
		return serveProxy(ctx, args[1], args[2], args[3])
	}
	return fmt.Errorf("usage: proxyref upstream ADDR AUTHORIZATION | proxyref proxy ADDR UPSTREAM AUTHORIZATION")
}

func serveProxy(ctx context.Context, addr, upstream, authorization string) error {
	u, err := url.Parse(upstream)
	if err != nil {
		return err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256 // one kept connection per concurrent request
	rp := &httputil.ReverseProxy{Transport: tr, Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.Header.Set("Authorization", authorization)
	}}
	srv := &http.Server{Addr: addr, Handler: rp, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		return err
	}
	return nil
}

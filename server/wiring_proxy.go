package server

import (
	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/vault"
	"github.com/gatehouse/gatehouse/webhooks"
)

// wireProxy builds the use of vault credentials (package proxy): the
// proxy's route, the token-exchange handler on the OAuth provider, and
// the use counter (a worker writing per-minute events through the mints'
// group committer). The proxy's outbound transport is the webhooks'
// SSRF-guarded one, with no overall timeout of its own (the proxy bounds
// each exchange, streamed bodies included).
func wireProxy(d deps, oauthSrv *oauth.Server, v *vault.Vault, mints *events.GroupCommitter, auth *oauth.Authenticator) (func(*echo.Echo), *proxy.Usage, *proxy.Lane) {
	usage := proxy.NewUsage(registerer(d), mints.Append, v.Instance, d.Now, d.Logger)
	client := webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: d.Config.WebhookAllowPrivate, Timeout: proxy.DefaultTimeout, MaxIdlePerHost: 256})
	p := proxy.New(proxy.Config{Vault: v, Transport: client.Transport, Rate: float64(d.Config.ProxyRate), Burst: d.Config.ProxyBurst,
		Usage: usage, Logger: d.Logger, Now: d.Now})
	ext := oauthSrv.Extend(proxy.GrantTypeTokenExchange)
	ext.Config.TokenEndpointHandlers.Append(&proxy.Exchange{Issuer: d.Config.Issuer, Vault: v, Checker: oauthSrv.Checker(), Usage: usage, Now: d.Now})
	lane := proxy.NewLane(p, registerer(d), d.Logger)
	return func(e *echo.Echo) { p.Register(e, auth) }, usage, lane
}

// Package proxy is the use of vault credentials by apps (API.md
// "Upstream credentials (the vault)" → "Use"): the authenticated proxy
// ANY /v1/proxy/{credential}/{path}, which injects a credential's access
// token into a request to its base_url and streams both ways, and the
// RFC 8693 token exchange at POST /v1/oauth/token, a fosite token
// endpoint handler that answers a credential's access token to an app
// allowed to take it. Both count use per credential and app (metrics,
// and one credential.used event per credential, app, minute and
// instance on the high-volume stream).
package proxy

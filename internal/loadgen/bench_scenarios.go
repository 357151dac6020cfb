package loadgen

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// target is what a scenario sends, again and again, and how it judges a
// 200 answer's body.
type target struct {
	method string
	url    string
	// header is shared by every request and never written to.
	header http.Header
	body   []byte
	// check reports whether a 200 answer's body is right; nil accepts any.
	check func(body []byte) bool
	// okCode is the status of a good answer when it is not 200.
	okCode int
	// receive, when set, takes deliveries the load causes (deliver).
	receive *benchReceiver
	// cleanup, when set, undoes what prepare set up.
	cleanup func()
	// step, when set, is one unit of load of its own making (several
	// requests, or a request that differs each time: revoke, idempotent)
	// instead of method, url, header and body; it returns its kind of
	// error, "" when all went well.
	step func(ctx context.Context) string
	// compare, when set, are other targets loaded in turn with this one,
	// in the same rounds (--rounds), for figures against (proxy: the
	// upstream called directly, the baseline, first; then the reference
	// proxy, when one is named). Their results are the Baseline.
	compare []comparand
	// baseline names the comparands (its Upstream, its Reference's URL);
	// bench fills in their figures.
	baseline *baseline
	// finish, when set, runs after the load and waits for what the load
	// set going to end (publish: every delivery terminal); what it says
	// is in the result.
	finish func(ctx context.Context) (string, error)
}

// comparand is a target loaded for comparison: GET url with
// authorization, its 200 answers judged by the scenario's check.
type comparand struct {
	url, authorization string
}

// scenario is one kind of load.
type scenario struct {
	summary      string
	method, path string
	prepare      func(ctx context.Context, c *http.Client, cfg benchConfig) (target, error)
}

// Paths of the endpoints bench loads.
const (
	tokenPath      = "/v1/oauth/token"
	introspectPath = "/v1/oauth/introspect"
	revokePath     = "/v1/oauth/revoke"
	jwksPath       = "/.well-known/jwks.json"
	healthzPath    = "/healthz"
)

func scenarios() map[string]scenario {
	return map[string]scenario{
		"mint": {"client_credentials token requests (client_secret_basic); a 200 without an access_token is an error",
			http.MethodPost, tokenPath, prepareMint},
		"introspect": {"introspection (basic auth) of one token minted first; an inactive answer is an error",
			http.MethodPost, introspectPath, prepareIntrospect},
		"vault-refresh": {"forced refreshes of upstream credentials (POST /v1/credentials/{id}/refresh), one per worker, whose provider is the server's own token endpoint (needs GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true)",
			http.MethodPost, "/v1/credentials/{id}/refresh", prepareVaultRefresh},
		"jwks": {"the published key set; an answer without keys is an error",
			http.MethodGet, jwksPath, prepareGet(jwksPath, jsonCheck("keys", nonEmptyArray))},
		"healthz": {"the liveness endpoint: the cost of a request that does nothing",
			http.MethodGet, healthzPath, prepareGet(healthzPath, nil)},
		"revoke": {"cycles of a client_credentials token request and the token's revocation (RFC 7009), one cycle per request counted",
			http.MethodPost, revokePath, prepareRevoke},
		"idempotent": {"publish small events, each POST with an Idempotency-Key of its own (no webhook takes them): idempotency records",
			http.MethodPost, "/v1/events", prepareIdempotent},
		"publish": {"publish events of --event-kib KiB to a webhook whose receiver (bench's own) answers 500, then wait until every delivery has failed (needs GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true; a short GATEHOUSE_WEBHOOK_RETRY_SCHEDULE)",
			http.MethodPost, "/v1/events", preparePublish},
		"deliver": {"publish events to a webhook served by bench itself; reports deliveries/s and event-to-delivery latency (the server needs GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true)",
			http.MethodPost, "/v1/events", prepareDeliver},
		"code": {"the code flow without a browser (issue 14): a person signed in and consented once, then each step is GET /v1/oauth/authorize with the session cookie (consent remembered) and the code's exchange with PKCE, two requests counted as one",
			http.MethodGet, authorizeURL, prepareCode},
		"graphql": {"50 apps with their scopes and webhooks in one POST /v1/graphql (issue 17); makes the apps and webhooks first (needs GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true)",
			http.MethodPost, "/v1/graphql", prepareGraphQL},
		"graphql-rest": {"the same data as graphql through REST: GET /v1/platform/apps?limit=50 and GET /v1/webhooks?limit=500, two requests counted as one",
			http.MethodGet, "/v1/platform/apps", prepareGraphQLREST},
		"console": {"the admin console's apps list (GET /console/apps, 50 of 1,000 apps made first) as a signed-in tenant admin; a page without its app links is an error (run the server with GATEHOUSE_RATE_LIMIT=false: each page is one platform API request of the person)",
			http.MethodGet, "/console/apps", prepareConsole},
		"proxy": {"GET through the credential proxy (issue 16) to an upstream API bench serves (it checks the injected provider token, constant-time, and answers 1 KiB of JSON), after the same load on that upstream directly with the same token (the baseline: throughput ratio and added p50); needs GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true",
			http.MethodGet, "/v1/proxy/{credential}" + upstreamAPIPath, prepareProxy},
		"proxy-noop": {"as proxy, to an upstream handler that does nothing (no check, empty body): a whole second HTTP exchange against none",
			http.MethodGet, "/v1/proxy/{credential}" + upstreamNoopPath, prepareProxyNoop},
		"login": {"the hosted login page (GET /login, the default tenant's) as a first visit: no cookie, so each answer sets a CSRF cookie; an answer without the form is an error",
			http.MethodGet, loginPath, prepareGet(loginPath, loginPageCheck)},
		"password-hash": {"one argon2id password hash per step, computed by bench itself through a Hasher bounded like the server's (GOMAXPROCS at once): hashes/s and the latency with the wait for a slot; the server is only probed",
			"", "", preparePasswordHash},
		"refresh": {"refresh token rotations (grant_type=refresh_token), one family per worker made through the code flow first",
			http.MethodPost, tokenPath, prepareRefresh},
	}
}

func scenarioNames() []string { return slices.Sorted(maps.Keys(scenarios())) }

// needsClient reports whether a scenario authenticates as a client.
func needsClient(name string) bool {
	return name != "jwks" && name != "healthz" && name != "login" && name != "password-hash"
}

func prepareGet(path string, check func([]byte) bool) func(context.Context, *http.Client, benchConfig) (target, error) {
	return func(_ context.Context, _ *http.Client, cfg benchConfig) (target, error) {
		return target{method: http.MethodGet, url: cfg.URL + path, header: http.Header{}, check: check}, nil
	}
}

func prepareMint(_ context.Context, _ *http.Client, cfg benchConfig) (target, error) {
	return mintTarget(cfg), nil
}

// mintTarget is the token request of cfg's client (RFC 6749 §4.4.2).
func mintTarget(cfg benchConfig) target {
	form := url.Values{"grant_type": {"client_credentials"}}
	if cfg.Scope != "" {
		form.Set("scope", cfg.Scope)
	}
	return target{
		method: http.MethodPost, url: cfg.URL + tokenPath, header: formHeader(cfg),
		body: []byte(form.Encode()), check: jsonCheck("access_token", nonEmptyString),
	}
}

// prepareIntrospect mints the token that every request then introspects.
func prepareIntrospect(ctx context.Context, c *http.Client, cfg benchConfig) (target, error) {
	tok, err := mintOnce(ctx, c, cfg)
	if err != nil {
		return target{}, fmt.Errorf("introspect: minting the token to introspect: %w", err)
	}
	return target{
		method: http.MethodPost, url: cfg.URL + introspectPath, header: formHeader(cfg),
		body: []byte(url.Values{"token": {tok}}.Encode()), check: jsonCheck("active", isTrue),
	}, nil
}

// mintOnce returns a fresh access token of cfg's client.
func mintOnce(ctx context.Context, c *http.Client, cfg benchConfig) (string, error) {
	return tokenOf(c, mintTarget(cfg).request(ctx), "POST "+tokenPath)
}

// tokenOf sends req, a token request, and returns the access token of
// its answer; a failure is an error naming what.
func tokenOf(c *http.Client, req *http.Request, what string) (string, error) {
	res, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return "", err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &tok) != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("%s: %s %s", what, res.Status, bytes.TrimSpace(body))
	}
	return tok.AccessToken, nil
}

// formHeader is the header of a form POST authenticated with
// client_secret_basic: id and secret form-encoded first (RFC 6749 §2.3.1).
func formHeader(cfg benchConfig) http.Header {
	cred := url.QueryEscape(cfg.ClientID) + ":" + url.QueryEscape(cfg.ClientSecret)
	return http.Header{
		"Content-Type":  {"application/x-www-form-urlencoded"},
		"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(cred))},
	}
}

// request is one request of t.
func (t target) request(ctx context.Context) *http.Request {
	var body io.Reader
	if t.body != nil {
		body = bytes.NewReader(t.body)
	}
	req, err := http.NewRequestWithContext(ctx, t.method, t.url, body)
	if err != nil {
		panic(err) // the URL was checked by validate
	}
	req.Header = t.header
	return req
}

// jsonCheck accepts a JSON object whose first member named key has a value
// that ok accepts. It looks at the bytes rather than decoding the body, so
// that checking costs the load generator, which shares the machine with the
// server, next to nothing.
func jsonCheck(key string, ok func(value []byte) bool) func([]byte) bool {
	needle := []byte(`"` + key + `"`)
	return func(body []byte) bool {
		i := bytes.Index(body, needle)
		if i < 0 {
			return false
		}
		rest := bytes.TrimLeft(body[i+len(needle):], " \t\r\n")
		if len(rest) == 0 || rest[0] != ':' {
			return false
		}
		return ok(bytes.TrimLeft(rest[1:], " \t\r\n"))
	}
}

func nonEmptyString(v []byte) bool { return len(v) > 1 && v[0] == '"' && v[1] != '"' }

func isTrue(v []byte) bool { return bytes.HasPrefix(v, []byte("true")) }

func nonEmptyArray(v []byte) bool {
	if len(v) == 0 || v[0] != '[' {
		return false
	}
	rest := strings.TrimLeft(string(v[1:min(len(v), 16)]), " \t\r\n")
	return rest != "" && rest[0] != ']'
}

package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// The GraphQL transport's figures (issue 17): the same data, 50 apps with
// their scopes and webhooks, read through GraphQL and through REST.
//
//	graphql:      one POST /v1/graphql of gqlBenchQuery (apps(first: 50)
//	              with scopes and webhooks: the server answers the
//	              webhooks of all 50 from one read, the batch);
//	graphql-rest: GET /v1/platform/apps?limit=50 and GET
//	              /v1/webhooks?limit=500, the two requests a REST client
//	              makes for the same data, counted as one step.
//
// Both first make sure the tenant has 50 apps named "bench gql …", each
// with a webhook of its own (made with the app's own token, as webhooks
// belong to the app that creates them; the server needs
// GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true for the loopback URL, which nothing
// listens on: no event is published to it). Both read with the bench
// client's token; a step whose answer lacks the 50 apps is a bad body.

const (
	benchGQLApps  = 50
	benchGQLName  = "bench gql "
	gqlBenchQuery = `{ apps(first: 50) { nodes { id client_id name scopes { scope status } webhooks { id url events status } } } }`
)

// GraphQLBenchQuery is the document of the graphql scenario, for the Go
// benchmarks of package graphql.
const GraphQLBenchQuery = gqlBenchQuery

// SeedGraphQL gives the tenant of the client clientID (at the server at
// url) the scenarios' 50 apps with a webhook each, unless it has them,
// and returns a token of that client: the data of the graphql and
// graphql-rest scenarios, for the Go benchmarks of package graphql.
func SeedGraphQL(ctx context.Context, c *http.Client, url, clientID, clientSecret string) (string, error) {
	api, err := seedGraphQL(ctx, c, benchConfig{URL: url, ClientID: clientID, ClientSecret: clientSecret})
	if err != nil {
		return "", err
	}
	return api.token, nil
}

func prepareGraphQL(ctx context.Context, c *http.Client, cfg benchConfig) (target, error) {
	api, err := seedGraphQL(ctx, c, cfg)
	if err != nil {
		return target{}, fmt.Errorf("graphql: %w", err)
	}
	body, _ := json.Marshal(map[string]string{"query": gqlBenchQuery})
	header := http.Header{"Authorization": {"Bearer " + api.token}, "Content-Type": {"application/json"}}
	return target{step: func(ctx context.Context) string {
		b, kind := benchDo(ctx, c, http.MethodPost, cfg.URL+"/v1/graphql", header, body)
		if kind != "" {
			return kind
		}
		if bytes.Contains(b, []byte(`"errors"`)) || bytes.Count(b, []byte(`"client_id"`)) != benchGQLApps || !bytes.Contains(b, []byte(`"webhooks":[{`)) {
			return errBadBody
		}
		return ""
	}}, nil
}

func prepareGraphQLREST(ctx context.Context, c *http.Client, cfg benchConfig) (target, error) {
	api, err := seedGraphQL(ctx, c, cfg)
	if err != nil {
		return target{}, fmt.Errorf("graphql-rest: %w", err)
	}
	header := http.Header{"Authorization": {"Bearer " + api.token}}
	return target{step: func(ctx context.Context) string {
		apps, kind := benchDo(ctx, c, http.MethodGet, cfg.URL+"/v1/platform/apps?limit=50", header, nil)
		if kind != "" {
			return kind
		}
		hooks, kind := benchDo(ctx, c, http.MethodGet, cfg.URL+"/v1/webhooks?limit=500", header, nil)
		if kind != "" {
			return kind
		}
		if bytes.Count(apps, []byte(`"client_id"`)) != benchGQLApps || !bytes.Contains(hooks, []byte(`"app_id"`)) {
			return errBadBody
		}
		return ""
	}}, nil
}

// benchDo sends one request and returns a 200 answer's body, or the kind
// of error.
func benchDo(ctx context.Context, c *http.Client, method, u string, header http.Header, body []byte) ([]byte, string) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, stepKind(ctx, err)
	}
	req.Header = header
	res, err := c.Do(req)
	if err != nil {
		return nil, stepKind(ctx, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return nil, stepKind(ctx, err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Sprintf("status %d", res.StatusCode)
	}
	return b, ""
}

// seedGraphQL makes the 50 apps and their webhooks unless the tenant has
// them from an earlier run.
func seedGraphQL(ctx context.Context, c *http.Client, cfg benchConfig) (*benchAPI, error) {
	api, err := newBenchAPI(ctx, c, cfg)
	if err != nil {
		return nil, err
	}
	list, err := api.call(ctx, http.MethodGet, "/v1/platform/apps?limit=500", nil, 200)
	if err != nil {
		return nil, err
	}
	have := strings.Count(string(list), `"name":"`+benchGQLName)
	if have >= benchGQLApps {
		return api, nil
	}
	if err := api.catalog(ctx); err != nil {
		return nil, err
	}
	for i := have; i < benchGQLApps; i++ {
		if err := seedGraphQLApp(ctx, c, cfg, api, i); err != nil {
			return nil, err
		}
	}
	return api, nil
}

// seedGraphQLApp makes app i, approves its webhooks:write, and subscribes
// it with its own token.
func seedGraphQLApp(ctx context.Context, c *http.Client, cfg benchConfig, api *benchAPI, i int) error {
	out, err := api.call(ctx, http.MethodPost, "/v1/platform/apps", map[string]any{
		"name": fmt.Sprintf("%s%02d %s", benchGQLName, i, randomHex(3)), "requested_scopes": []string{"webhooks:write", benchScope}}, 201)
	if err != nil {
		return err
	}
	var app struct {
		ID           string `json:"id"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out, &app); err != nil || app.ClientSecret == "" {
		return fmt.Errorf("the created app's answer: %s", out)
	}
	if _, err := api.call(ctx, http.MethodPost, "/v1/platform/apps/"+app.ID+"/scope-decisions", map[string]any{"scope": "webhooks:write", "decision": "approve"}, 200); err != nil {
		return err
	}
	own := benchConfig{URL: cfg.URL, ClientID: app.ClientID, ClientSecret: app.ClientSecret}
	tok, err := mintOnce(ctx, c, own)
	if err != nil {
		return fmt.Errorf("a token of %s: %w", app.ID, err)
	}
	as := &benchAPI{c: c, base: cfg.URL, token: tok, cfg: own}
	_, err = as.webhook(ctx, "http://127.0.0.1:9/bench-gql-"+url.PathEscape(app.ID))
	return err
}

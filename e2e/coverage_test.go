package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/authz"
)

// Route coverage: every answer the run's requests get through httpClient
// (every api, and the OAuth clients driven with it) is noted as "METHOD
// /template STATUS" against the served OpenAPI document, whose operations
// are the server's registered routes (server
// TestOpenAPIRouteParity holds the router's e.Routes() and the document
// to each other). After a whole run, TestMain fails when a route lacks a
// test of its success or of one of its documented 4xx answers, unless
// uncovered below says why it cannot be provoked. A status added to the
// document (a new 403, 429 or 400) is then required of the tests too.

// answers are the (operation, status) pairs the run's requests got.
var answers = struct {
	sync.Mutex
	seen map[string]bool
}{seen: map[string]bool{}}

// noteAnswer records that method path was answered status.
func noteAnswer(method, path string, status int) {
	answers.Lock()
	answers.seen[fmt.Sprintf("%s %s %d", method, path, status)] = true
	answers.Unlock()
}

// signInElsewhere: the sign-in pages and the person's endpoints are driven
// by a browser (e2e/idp_test.go, Chromium through chromedp, whose requests
// this recorder does not see) and, answer by answer, by the package tests
// of server/http_idp_test.go.
const signInElsewhere = "driven by the browser test (e2e/idp_test.go) and provoked, status by status, by server/http_idp_test.go (TestIdPAnswers and the flows)"

// parElsewhere: pushed authorization requests lead to the sign-in pages;
// server/http_par_test.go provokes their answers (the 413 is the OAuth
// endpoints' one form limit, provoked at the token endpoint here).
const parElsewhere = "provoked by server/http_par_test.go (TestPARCodeFlow, TestPARRefused); the 413 is the shared OAuth form limit"

// oidcInteropElsewhere: RP-initiated logout by POST and userinfo's
// refusals of a token sent twice or in the URL are the sign-in's too; the
// package tests provoke them.
const oidcInteropElsewhere = "provoked by server/http_oidc_interop_test.go (TestIdPEndSessionByPost, TestIdPUserinfoTokenInBody)"

// consoleElsewhere: the admin console's pages are driven by a browser
// (e2e/console_test.go, Chromium through chromedp, whose requests this
// recorder does not see).
const consoleElsewhere = "driven by the browser test (e2e/console_test.go); the refusals (403, 404, 409, 422, 400) are the platform API's own, provoked by its tests"

// uncovered are the documented answers no e2e test needs to get, each
// with why: "METHOD /template STATUS", or "* STATUS" for every route.
var uncovered = map[string]string{
	"GET /console 303":                                               consoleElsewhere,
	"GET /console/apps/{id}/edit 200":                                consoleElsewhere,
	"GET /console/apps/{id}/edit 303":                                consoleElsewhere,
	"GET /console/apps/{id}/edit 403":                                consoleElsewhere,
	"GET /console/apps/{id}/edit 404":                                consoleElsewhere,
	"POST /console/apps/{id}/edit 303":                               consoleElsewhere,
	"POST /console/apps/{id}/edit 400":                               consoleElsewhere,
	"POST /console/apps/{id}/edit 403":                               consoleElsewhere,
	"POST /console/apps/{id}/edit 409":                               consoleElsewhere,
	"POST /console/apps/{id}/edit 422":                               consoleElsewhere,
	"POST /console/apps/{id}/edit 404":                               consoleElsewhere,
	"POST /console/apps/{id}/edit 412":                               consoleElsewhere,
	"POST /console/apps/{id}/active 303":                             consoleElsewhere,
	"POST /console/apps/{id}/active 403":                             consoleElsewhere,
	"POST /console/apps/{id}/active 404":                             consoleElsewhere,
	"POST /console/apps/{id}/tokens 201":                             consoleElsewhere,
	"POST /console/apps/{id}/tokens 303":                             consoleElsewhere,
	"POST /console/apps/{id}/tokens 403":                             consoleElsewhere,
	"POST /console/apps/{id}/tokens 404":                             consoleElsewhere,
	"GET /console/callback 303":                                      consoleElsewhere,
	"GET /console/callback 400":                                      consoleElsewhere,
	"GET /console/callback 403":                                      consoleElsewhere,
	"POST /console/logout 303":                                       consoleElsewhere,
	"POST /console/logout 403":                                       consoleElsewhere,
	"GET /console/users/new 200":                                     consoleElsewhere,
	"GET /console/users/new 303":                                     consoleElsewhere,
	"GET /console/users/new 403":                                     consoleElsewhere,
	"POST /console/users 303":                                        consoleElsewhere,
	"POST /console/users 400":                                        consoleElsewhere,
	"POST /console/users 403":                                        consoleElsewhere,
	"POST /console/users 409":                                        consoleElsewhere,
	"POST /console/users 422":                                        consoleElsewhere,
	"GET /console/users/{id} 200":                                    consoleElsewhere,
	"GET /console/users/{id} 303":                                    consoleElsewhere,
	"GET /console/users/{id} 403":                                    consoleElsewhere,
	"GET /console/users/{id} 404":                                    consoleElsewhere,
	"POST /console/users/{id}/role 303":                              consoleElsewhere,
	"POST /console/users/{id}/role 403":                              consoleElsewhere,
	"POST /console/users/{id}/role 404":                              consoleElsewhere,
	"POST /console/users/{id}/disable 303":                           consoleElsewhere,
	"POST /console/users/{id}/disable 403":                           consoleElsewhere,
	"POST /console/users/{id}/disable 404":                           consoleElsewhere,
	"POST /console/users/{id}/enable 303":                            consoleElsewhere,
	"POST /console/users/{id}/enable 403":                            consoleElsewhere,
	"POST /console/users/{id}/enable 404":                            consoleElsewhere,
	"POST /console/users/{id}/delete 303":                            consoleElsewhere,
	"POST /console/users/{id}/delete 403":                            consoleElsewhere,
	"POST /console/users/{id}/delete 404":                            consoleElsewhere,
	"GET /console/assets/console.css 200":                            consoleElsewhere,
	"GET /console/assets/console.js 200":                             consoleElsewhere,
	"GET /console/apps 200":                                          consoleElsewhere,
	"GET /console/apps 303":                                          consoleElsewhere,
	"GET /console/apps 400":                                          consoleElsewhere,
	"GET /console/apps 403":                                          consoleElsewhere,
	"GET /console/apps/new 200":                                      consoleElsewhere,
	"GET /console/apps/new 303":                                      consoleElsewhere,
	"GET /console/apps/new 403":                                      consoleElsewhere,
	"GET /console/apps/{id} 200":                                     consoleElsewhere,
	"GET /console/apps/{id} 303":                                     consoleElsewhere,
	"GET /console/apps/{id} 403":                                     consoleElsewhere,
	"GET /console/apps/{id} 404":                                     consoleElsewhere,
	"GET /console/catalog 200":                                       consoleElsewhere,
	"GET /console/catalog 303":                                       consoleElsewhere,
	"GET /console/catalog 403":                                       consoleElsewhere,
	"GET /console/webhooks 200":                                      consoleElsewhere,
	"GET /console/webhooks 303":                                      consoleElsewhere,
	"GET /console/webhooks 400":                                      consoleElsewhere,
	"GET /console/webhooks 403":                                      consoleElsewhere,
	"GET /console/webhooks/{id} 200":                                 consoleElsewhere,
	"GET /console/webhooks/{id} 303":                                 consoleElsewhere,
	"GET /console/webhooks/{id} 400":                                 consoleElsewhere,
	"GET /console/webhooks/{id} 403":                                 consoleElsewhere,
	"GET /console/webhooks/{id} 404":                                 consoleElsewhere,
	"GET /console/users 200":                                         consoleElsewhere,
	"GET /console/users 303":                                         consoleElsewhere,
	"GET /console/users 400":                                         consoleElsewhere,
	"GET /console/users 403":                                         consoleElsewhere,
	"GET /console/audit 200":                                         consoleElsewhere,
	"GET /console/audit 303":                                         consoleElsewhere,
	"GET /console/audit 400":                                         consoleElsewhere,
	"GET /console/audit 403":                                         consoleElsewhere,
	"POST /console/apps 201":                                         consoleElsewhere,
	"POST /console/apps 303":                                         consoleElsewhere,
	"POST /console/apps 400":                                         consoleElsewhere,
	"POST /console/apps 403":                                         consoleElsewhere,
	"POST /console/apps 409":                                         consoleElsewhere,
	"POST /console/apps 422":                                         consoleElsewhere,
	"POST /console/apps/{id}/decisions 303":                          consoleElsewhere,
	"POST /console/apps/{id}/decisions 400":                          consoleElsewhere,
	"POST /console/apps/{id}/decisions 403":                          consoleElsewhere,
	"POST /console/apps/{id}/decisions 404":                          consoleElsewhere,
	"POST /console/apps/{id}/secrets 201":                            consoleElsewhere,
	"POST /console/apps/{id}/secrets 303":                            consoleElsewhere,
	"POST /console/apps/{id}/secrets 403":                            consoleElsewhere,
	"POST /console/apps/{id}/secrets 404":                            consoleElsewhere,
	"POST /console/apps/{id}/secrets/{secret_id}/revoke 303":         consoleElsewhere,
	"POST /console/apps/{id}/secrets/{secret_id}/revoke 403":         consoleElsewhere,
	"POST /console/apps/{id}/secrets/{secret_id}/revoke 404":         consoleElsewhere,
	"POST /console/webhooks/{id}/test 303":                           consoleElsewhere,
	"POST /console/webhooks/{id}/test 403":                           consoleElsewhere,
	"POST /console/webhooks/{id}/test 404":                           consoleElsewhere,
	"POST /console/webhooks/{id}/rotate 201":                         consoleElsewhere,
	"POST /console/webhooks/{id}/rotate 303":                         consoleElsewhere,
	"POST /console/webhooks/{id}/rotate 403":                         consoleElsewhere,
	"POST /console/webhooks/{id}/rotate 404":                         consoleElsewhere,
	"POST /console/webhooks/{id}/deliveries/{delivery_id}/retry 303": consoleElsewhere,
	"POST /console/webhooks/{id}/deliveries/{delivery_id}/retry 403": consoleElsewhere,
	"POST /console/webhooks/{id}/deliveries/{delivery_id}/retry 404": consoleElsewhere,
	"GET /console/credentials 200":                                   consoleElsewhere,
	"GET /console/credentials 303":                                   consoleElsewhere,
	"GET /console/credentials 400":                                   consoleElsewhere,
	"GET /console/credentials 403":                                   consoleElsewhere,
	"GET /console/credentials/{id} 200":                              consoleElsewhere,
	"GET /console/credentials/{id} 303":                              consoleElsewhere,
	"GET /console/credentials/{id} 403":                              consoleElsewhere,
	"GET /console/credentials/{id} 404":                              consoleElsewhere,
	"POST /console/credentials/{id}/refresh 303":                     consoleElsewhere,
	"POST /console/credentials/{id}/refresh 403":                     consoleElsewhere,
	"POST /console/credentials/{id}/refresh 404":                     consoleElsewhere,
	"POST /console/credentials/{id}/rollback 303":                    consoleElsewhere,
	"POST /console/credentials/{id}/rollback 403":                    consoleElsewhere,
	"POST /console/credentials/{id}/rollback 404":                    consoleElsewhere,
	"POST /console/credentials/{id}/authorize 303":                   consoleElsewhere,
	"POST /console/credentials/{id}/authorize 403":                   consoleElsewhere,
	"POST /console/credentials/{id}/authorize 404":                   consoleElsewhere,
	"GET /console/activities 200":                                    consoleElsewhere,
	"GET /console/activities 303":                                    consoleElsewhere,
	"GET /console/activities 400":                                    consoleElsewhere,
	"GET /console/activities 403":                                    consoleElsewhere,
	"GET /console/activities/{id} 200":                               consoleElsewhere,
	"GET /console/activities/{id} 303":                               consoleElsewhere,
	"GET /console/activities/{id} 403":                               consoleElsewhere,
	"GET /console/activities/{id} 404":                               consoleElsewhere,
	"POST /console/activities/{id}/decisions 303":                    consoleElsewhere,
	"POST /console/activities/{id}/decisions 403":                    consoleElsewhere,
	"POST /console/activities/{id}/decisions 404":                    consoleElsewhere,
	"DELETE /v1/me/consents/{app_id} 204":                            signInElsewhere,
	"DELETE /v1/me/consents/{app_id} 404":                            signInElsewhere,
	"GET /account 200":                                               signInElsewhere,
	"GET /consent 200":                                               signInElsewhere,
	"GET /consent 400":                                               signInElsewhere,
	"GET /idp/assets/style.css 200":                                  signInElsewhere,
	"GET /login 200":                                                 signInElsewhere,
	"GET /login 400":                                                 signInElsewhere,
	"GET /logout 200":                                                signInElsewhere,
	"GET /v1/me/consents 200":                                        signInElsewhere,
	"GET /v1/oauth/logout 400":                                       signInElsewhere,
	"GET /v1/oauth/userinfo 401":                                     signInElsewhere,
	"GET /v1/oauth/userinfo 400":                                     oidcInteropElsewhere,
	"POST /account/consents/withdraw 403":                            signInElsewhere,
	"POST /consent 400":                                              signInElsewhere,
	"POST /consent 403":                                              signInElsewhere,
	"POST /login 400":                                                signInElsewhere,
	"POST /login 401":                                                signInElsewhere,
	"POST /login 403":                                                signInElsewhere,
	"POST /logout 200":                                               signInElsewhere,
	"POST /logout 403":                                               signInElsewhere,
	"POST /v1/oauth/authorize 400":                                   signInElsewhere,
	"POST /v1/oauth/logout 200":                                      oidcInteropElsewhere,
	"POST /v1/oauth/logout 400":                                      oidcInteropElsewhere,
	"POST /v1/oauth/par 201":                                         parElsewhere,
	"POST /v1/oauth/par 400":                                         parElsewhere,
	"POST /v1/oauth/par 413":                                         parElsewhere,
	"POST /v1/oauth/userinfo 400":                                    oidcInteropElsewhere,
	"POST /v1/oauth/userinfo 200":                                    signInElsewhere,
	"POST /v1/oauth/userinfo 401":                                    signInElsewhere,
	"POST /v1/oauth/userinfo 403":                                    signInElsewhere,
	"* 429": "rate limiting is one middleware in front of every route; exhausting each route's budget in turn " +
		"would slow the whole run: the rate-limit tests provoke it on the routes they name",
	"DELETE /v1/platform/apps/{id} 409":              "the app changed concurrently more times than the command retries: a race no request sequence provokes at will",
	"POST /v1/platform/apps/{id}/scope-requests 409": "the app changed concurrently more times than the command retries: a race no request sequence provokes at will",
	"PATCH /v1/platform/users/{id} 409":              "the user changed concurrently more times than the command retries: a race no request sequence provokes at will",
	"DELETE /v1/platform/users/{id} 409":             "the user changed concurrently more times than the command retries: a race no request sequence provokes at will",
	"POST /v1/platform/keys/rotate 409": "the key set changed meanwhile (another instance rotated between the read and " +
		"the append): a race no request sequence provokes at will",
	"POST /v1/graphql 409": "a repeat of an Idempotency-Key while its first request still runs: a race no request " +
		"sequence provokes at will (the REST routes' own 409 of the same middleware is provoked by their tests)",
	"DELETE /v1/platform/graphql/operations/{id} 409":  "the operation changed concurrently more times than the command retries: a race no request sequence provokes at will",
	"GET /v1/platform/scopes 403":                      anyToken,
	"GET /v1/platform/scopes/{name} 403":               anyToken,
	"GET /v1/platform/event-types 403":                 anyToken,
	"GET /v1/platform/event-types/{name} 403":          anyToken,
	"GET /v1/platform/approval-policies 403":           anyToken,
	"GET /v1/platform/approval-policies/{subject} 403": anyToken,
	"POST /v1/webhooks/{id}/test 415": "the route reads no body, so it never looks at Content-Type: the document " +
		"declares a 415 the server cannot answer",
	"POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry 415": "the route reads no body, so it never looks at " +
		"Content-Type: the document declares a 415 the server cannot answer",
}

// anyToken: the catalog reads (and the approval policies, which set the
// quorum of the catalog's sibling decisions) need no scope (API.md "scope discovery"),
// so no valid token of the tenant is refused them.
const anyToken = "any valid token of the tenant reads the catalog: no token is short of a scope for it"

// requiredStatus reports whether a documented status must be exercised:
// the successes and the client errors (a 5xx or a 304 is an outage or a
// cache answer, which the tests that provoke them check on their own).
func requiredStatus(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && (n/100 == 2 || n/100 == 4)
}

// docOperation is an operation of the document and the statuses it
// declares.
type docOperation struct {
	method, path string
	pattern      *regexp.Regexp
	statuses     []string
}

// documentOperations reads the operations of the served document.
func documentOperations() ([]docOperation, error) {
	raw, err := authz.OpenAPIDocument("http://127.0.0.1")
	if err != nil {
		return nil, err
	}
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	param := regexp.MustCompile(`\\\{[^}]*\}`)
	var ops []docOperation
	for path, item := range d.Paths {
		pattern := regexp.MustCompile("^" + param.ReplaceAllString(regexp.QuoteMeta(path), "[^/]+") + "$")
		for method, op := range item {
			var o struct {
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if method == "parameters" || json.Unmarshal(op, &o) != nil {
				continue
			}
			var st []string
			for s := range o.Responses {
				st = append(st, s)
			}
			slices.Sort(st)
			ops = append(ops, docOperation{strings.ToUpper(method), path, pattern, st})
		}
	}
	return ops, nil
}

// template returns the document's path template that path matches for
// method, preferring the one with fewest parameters.
func template(ops []docOperation, method, path string) (string, bool) {
	best, found := "", false
	for _, o := range ops {
		if o.method == method && o.pattern.MatchString(path) {
			if !found || strings.Count(o.path, "{") < strings.Count(best, "{") {
				best, found = o.path, true
			}
		}
	}
	return best, found
}

// checkRouteCoverage lists every required documented answer no request of
// the run got, and every stale entry of uncovered.
func checkRouteCoverage() error {
	ops, err := documentOperations()
	if err != nil {
		return err
	}
	answers.Lock()
	got := map[string]bool{}
	for k := range answers.seen {
		f := strings.Fields(k)
		if tmpl, ok := template(ops, f[0], f[1]); ok {
			got[f[0]+" "+tmpl+" "+f[2]] = true
		}
	}
	answers.Unlock()
	var missing []string
	for _, o := range ops {
		for _, s := range o.statuses {
			key := o.method + " " + o.path + " " + s
			if !requiredStatus(s) || got[key] || uncovered[key] != "" || uncovered["* "+s] != "" {
				continue
			}
			missing = append(missing, key)
		}
	}
	for key := range uncovered {
		if !strings.HasPrefix(key, "* ") && got[key] {
			missing = append(missing, key+" (listed in uncovered but a test got it: remove it from the list)")
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return fmt.Errorf("%d documented answers no e2e test got (add a test, or an entry to uncovered in e2e/coverage_test.go saying why it cannot be provoked):\n  %s",
		len(missing), strings.Join(missing, "\n  "))
}

// wholeRun reports whether this run is the whole suite: no -run or -skip
// filter and not -short. A filtered run checks nothing.
func wholeRun() bool {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	f := flag.Lookup("test.short")
	return f == nil || f.Value.String() != "true"
}

package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/webhooks"
)

// maxTokenAnswer bounds the body of a provider's token answer.
const maxTokenAnswer = 1 << 20

// tokenSet is what a token set's sealed JSON holds: only the server sees
// it.
type tokenSet struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// grantAnswer is a provider's successful token answer (RFC 6749 §5.1).
type grantAnswer struct {
	tokens    tokenSet
	tokenType string
	expiresIn int64
	scopes    []string
}

// UpstreamError is a provider's refusal (RFC 6749 §5.2: its error code
// and description) or a failure to reach it (Code "unreachable",
// "http_<status>" or "invalid_response"). Its text never holds a secret.
type UpstreamError struct {
	Code        string
	Description string
	// RetryAfter is the wait the provider asked for (a 429's or 503's
	// Retry-After), 0 when none: the next attempt is not sooner.
	RetryAfter time.Duration
}

func (e *UpstreamError) Error() string {
	if e.Description == "" {
		return "upstream: " + e.Code
	}
	return "upstream: " + e.Code + ": " + e.Description
}

// InvalidGrant reports whether the provider refused the grant itself
// (a revoked or expired refresh token, a wrong password): RFC 6749's
// invalid_grant, and what GitHub (bad_refresh_token) and Slack
// (invalid_refresh_token) answer instead of it.
func (e *UpstreamError) InvalidGrant() bool {
	switch e.Code {
	case "invalid_grant", "bad_refresh_token", "invalid_refresh_token":
		return true
	}
	return false
}

// endpoint is what a token request needs of a credential.
type endpoint struct {
	tokenURL       string
	clientID       string
	clientSecret   string
	authInBody     bool
	scopeSeparator string
}

func endpointOf(c projections.Credential, secret string) endpoint {
	return endpoint{tokenURL: c.TokenURL, clientID: c.ClientID, clientSecret: secret,
		authInBody: Providers[c.Provider].AuthInBody, scopeSeparator: c.ScopeSeparator}
}

// requestToken makes one token request (RFC 6749 §4.3, §4.4, §6) with
// form (grant_type and its parameters) through the SSRF-guarded client.
func requestToken(ctx context.Context, client *http.Client, ep endpoint, form url.Values) (grantAnswer, error) {
	if ep.clientSecret == "" || ep.authInBody {
		form.Set("client_id", ep.clientID)
		if ep.clientSecret != "" {
			form.Set("client_secret", ep.clientSecret)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return grantAnswer{}, &UpstreamError{Code: "invalid_request", Description: "the token URL is not usable"}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if ep.clientSecret != "" && !ep.authInBody {
		// RFC 6749 §2.3.1: the id and secret are form-encoded before Basic.
		req.SetBasicAuth(url.QueryEscape(ep.clientID), url.QueryEscape(ep.clientSecret))
	}
	res, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return grantAnswer{}, ctx.Err() // the caller hung up
		}
		if ctx.Err() != nil {
			return grantAnswer{}, &UpstreamError{Code: "unreachable", Description: "the provider did not answer in time"}
		}
		return grantAnswer{}, &UpstreamError{Code: "unreachable", Description: describeTransport(err)}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxTokenAnswer+1))
	if err != nil || len(body) > maxTokenAnswer {
		return grantAnswer{}, &UpstreamError{Code: "invalid_response", Description: "the token answer could not be read", RetryAfter: retryAfter(res)}
	}
	raw, ok := parseTokenAnswer(body)
	if !ok && res.StatusCode/100 == 2 {
		return grantAnswer{}, &UpstreamError{Code: "invalid_response", Description: "the token answer is not JSON"}
	}
	if raw.err != "" {
		return grantAnswer{}, &UpstreamError{Code: clip(raw.err, 64), Description: clip(raw.errDescription, 256), RetryAfter: retryAfter(res)}
	}
	if res.StatusCode/100 != 2 {
		return grantAnswer{}, &UpstreamError{Code: "http_" + strconv.Itoa(res.StatusCode), RetryAfter: retryAfter(res)}
	}
	if raw.accessToken == "" {
		return grantAnswer{}, &UpstreamError{Code: "invalid_response", Description: "the token answer has no access_token"}
	}
	a := grantAnswer{tokens: tokenSet{AccessToken: raw.accessToken, RefreshToken: raw.refreshToken}, tokenType: raw.tokenType}
	if a.tokenType == "" {
		a.tokenType = "Bearer"
	}
	if n, err := strconv.ParseInt(raw.expiresIn, 10, 64); err == nil && n > 0 {
		a.expiresIn = min(n, int64(10*365*24*time.Hour/time.Second))
	}
	a.scopes = raw.scopes
	return a, nil
}

// tokenAnswer is the fields of a token answer the vault reads.
type tokenAnswer struct {
	accessToken, refreshToken, tokenType, expiresIn string
	scopes                                          []string
	err, errDescription                             string
}

// parseTokenAnswer reads a token answer (RFC 6749 §5.1, §5.2) as
// providers send it: JSON, or form-encoded (GitHub without Accept:
// application/json, and older providers as text/plain); expires_in a
// number or a string (Microsoft's v1 endpoints); scope space- or
// comma-separated (Slack, Strava) or a JSON array; Slack's error in
// "error" beside "ok": false, and a user token given only in
// "authed_user" (an installation asking for user scopes alone). A field
// of an unexpected type is ignored, not the whole answer. ok is false
// when the body is neither JSON nor a form.
func parseTokenAnswer(body []byte) (tokenAnswer, bool) {
	// Whatever the Content-Type says: a form never parses as JSON, and
	// some providers label one as the other.
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		v, err := url.ParseQuery(strings.TrimSpace(string(body)))
		if err != nil || (v.Get("access_token") == "" && v.Get("error") == "") {
			return tokenAnswer{}, false
		}
		var a tokenAnswer
		a.accessToken, a.refreshToken, a.tokenType = v.Get("access_token"), v.Get("refresh_token"), v.Get("token_type")
		a.expiresIn, a.err, a.errDescription = v.Get("expires_in"), v.Get("error"), v.Get("error_description")
		if s := v.Get("scope"); s != "" {
			a.scopes = splitScopes(s)
		}
		return a, true
	}
	a := tokenAnswer{accessToken: jsonString(m["access_token"]), refreshToken: jsonString(m["refresh_token"]),
		tokenType: jsonString(m["token_type"]), expiresIn: jsonString(m["expires_in"]), scopes: jsonScopes(m["scope"]),
		err: jsonString(m["error"]), errDescription: jsonString(m["error_description"])}
	if a.accessToken == "" && a.err == "" {
		// Slack (oauth.v2.access): with only user scopes asked, the user
		// token is authed_user's.
		var user map[string]json.RawMessage
		if json.Unmarshal(m["authed_user"], &user) == nil && jsonString(user["access_token"]) != "" {
			a = tokenAnswer{accessToken: jsonString(user["access_token"]), refreshToken: jsonString(user["refresh_token"]),
				tokenType: jsonString(user["token_type"]), expiresIn: jsonString(user["expires_in"]), scopes: jsonScopes(user["scope"])}
		}
	}
	return a, true
}

// jsonString is a JSON string's value, or a number's text; "" otherwise.
func jsonString(r json.RawMessage) string {
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(r, &n) == nil {
		return n.String()
	}
	return ""
}

// jsonScopes is a scope field: a string of space- or comma-separated
// scopes, or an array of them (nil: none given).
func jsonScopes(r json.RawMessage) []string {
	if s := jsonString(r); s != "" {
		return splitScopes(s)
	}
	var list []string
	if json.Unmarshal(r, &list) == nil && len(list) > 0 {
		return list
	}
	return nil
}

// maxRetryAfter bounds the wait a provider's Retry-After asks for.
const maxRetryAfter = time.Hour

// retryAfter is the wait a 429 or 503's Retry-After asks for
// (webhooks.RetryAfter: seconds or an HTTP date), at most maxRetryAfter;
// 0 when none.
func retryAfter(res *http.Response) time.Duration {
	if res.StatusCode != http.StatusTooManyRequests && res.StatusCode != http.StatusServiceUnavailable {
		return 0
	}
	return min(webhooks.RetryAfter(res.Header.Get("Retry-After"), time.Now()), maxRetryAfter)
}

// describeTransport says why a provider could not be reached without
// the URL's query (it holds nothing secret, but stays short).
func describeTransport(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return clip(err.Error(), 256)
}

func splitScopes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// grantForm is the token request of c's own grant (client_credentials or
// password), with the opened password.
func grantForm(c projections.Credential, password string) url.Values {
	form := url.Values{"grant_type": {c.GrantType}}
	if len(c.Scopes) > 0 {
		form.Set("scope", strings.Join(c.Scopes, c.ScopeSeparator))
	}
	if c.GrantType == GrantPassword {
		form.Set("username", c.Username)
		form.Set("password", password)
	}
	return form
}

// refreshForm is a refresh request (RFC 6749 §6).
func refreshForm(refreshToken string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
}

// errorDetail is the 502's detail for err.
func errorDetail(provider string, err error) string {
	var ue *UpstreamError
	if errors.As(err, &ue) {
		if ue.Description != "" {
			return fmt.Sprintf("the provider (%s) answered %s: %s", provider, ue.Code, ue.Description)
		}
		return fmt.Sprintf("the provider (%s) answered %s", provider, ue.Code)
	}
	return fmt.Sprintf("the provider (%s) could not be reached", provider)
}

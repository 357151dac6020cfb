package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/projections"
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
}

func (e *UpstreamError) Error() string {
	if e.Description == "" {
		return "upstream: " + e.Code
	}
	return "upstream: " + e.Code + ": " + e.Description
}

// InvalidGrant reports whether the provider refused the grant itself
// (a revoked or expired refresh token, a wrong password).
func (e *UpstreamError) InvalidGrant() bool { return e.Code == "invalid_grant" }

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
		if ctx.Err() != nil {
			return grantAnswer{}, ctx.Err()
		}
		return grantAnswer{}, &UpstreamError{Code: "unreachable", Description: describeTransport(err)}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxTokenAnswer+1))
	if err != nil || len(body) > maxTokenAnswer {
		return grantAnswer{}, &UpstreamError{Code: "invalid_response", Description: "the token answer could not be read"}
	}
	var raw struct {
		AccessToken      string          `json:"access_token"`
		RefreshToken     string          `json:"refresh_token"`
		TokenType        string          `json:"token_type"`
		ExpiresIn        json.RawMessage `json:"expires_in"`
		Scope            string          `json:"scope"`
		Error            string          `json:"error"`
		ErrorDescription string          `json:"error_description"`
	}
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" {
		v, _ := url.ParseQuery(string(body))
		raw.AccessToken, raw.RefreshToken, raw.TokenType = v.Get("access_token"), v.Get("refresh_token"), v.Get("token_type")
		raw.ExpiresIn, raw.Scope, raw.Error, raw.ErrorDescription = json.RawMessage(v.Get("expires_in")), v.Get("scope"), v.Get("error"), v.Get("error_description")
	} else if err := json.Unmarshal(body, &raw); err != nil && res.StatusCode/100 == 2 {
		return grantAnswer{}, &UpstreamError{Code: "invalid_response", Description: "the token answer is not JSON"}
	}
	if raw.Error != "" {
		return grantAnswer{}, &UpstreamError{Code: clip(raw.Error, 64), Description: clip(raw.ErrorDescription, 256)}
	}
	if res.StatusCode/100 != 2 {
		return grantAnswer{}, &UpstreamError{Code: "http_" + strconv.Itoa(res.StatusCode)}
	}
	if raw.AccessToken == "" {
		return grantAnswer{}, &UpstreamError{Code: "invalid_response", Description: "the token answer has no access_token"}
	}
	a := grantAnswer{tokens: tokenSet{AccessToken: raw.AccessToken, RefreshToken: raw.RefreshToken}, tokenType: raw.TokenType}
	if a.tokenType == "" {
		a.tokenType = "Bearer"
	}
	if len(raw.ExpiresIn) > 0 {
		s := strings.Trim(string(raw.ExpiresIn), `"`)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			a.expiresIn = min(n, int64(10*365*24*time.Hour/time.Second))
		}
	}
	if raw.Scope != "" {
		a.scopes = splitScopes(raw.Scope)
	}
	return a, nil
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

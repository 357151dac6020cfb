package server

import (
	"net/http"
	"net/url"
)

// governance walks the catalogs, scope requests and decisions, secrets,
// service tokens and the audit feed through their answers.
func (c *conformance) governance(admin string) {
	c.t.Helper()
	const scopes, types, apps = "/v1/platform/scopes", "/v1/platform/event-types", "/v1/platform/apps"
	c.do(c.jsonRequest(http.MethodGet, scopes, admin, nil), http.StatusOK)
	c.do(c.jsonRequest(http.MethodPost, scopes, admin, map[string]any{"name": "cases:read", "description": "Read cases", "approvals_required": 2}), http.StatusCreated)
	c.do(c.jsonRequest(http.MethodPost, scopes, admin, map[string]any{"name": "cases:read"}), http.StatusConflict)
	c.do(c.jsonRequest(http.MethodPost, scopes, admin, map[string]any{"name": "Not A Scope"}), http.StatusBadRequest)
	c.do(c.jsonRequest(http.MethodGet, types, admin, nil), http.StatusOK)
	c.do(c.jsonRequest(http.MethodPost, types, admin, map[string]any{"name": "case.updated", "scope": "cases:read"}), http.StatusCreated)
	c.do(c.jsonRequest(http.MethodPost, types, admin, map[string]any{"name": "case.updated", "scope": "cases:read"}), http.StatusConflict)
	c.do(c.jsonRequest(http.MethodPost, types, admin, map[string]any{"name": "x", "scope": "nope"}), http.StatusBadRequest)
	c.do(c.jsonRequest(http.MethodDelete, scopes+"/cases:read", admin, nil), http.StatusConflict)
	c.do(c.jsonRequest(http.MethodPost, types, admin, map[string]any{"name": "case.closed", "scope": "cases:read"}), http.StatusCreated)
	c.do(c.jsonRequest(http.MethodDelete, types+"/case.closed", admin, nil), http.StatusNoContent)
	c.do(c.jsonRequest(http.MethodDelete, types+"/case.closed", admin, nil), http.StatusNotFound)
	c.do(c.jsonRequest(http.MethodPost, scopes, admin, map[string]any{"name": "tmp:scope"}), http.StatusCreated)
	c.do(c.jsonRequest(http.MethodDelete, scopes+"/tmp:scope", admin, nil), http.StatusNoContent)

	var app appCreated
	c.decode(c.do(c.jsonRequest(http.MethodPost, apps, admin, map[string]any{"name": "governed", "requested_scopes": []string{"webhooks:read"}}), http.StatusCreated), &app)
	base := apps + "/" + app.ID
	c.do(c.jsonRequest(http.MethodPost, base+"/scope-requests", admin, map[string]any{"scopes": []string{"cases:read"}}), http.StatusOK)
	c.do(c.jsonRequest(http.MethodPost, base+"/scope-requests", admin, map[string]any{"scopes": []string{"nope:nope"}}), http.StatusBadRequest)
	c.do(c.jsonRequest(http.MethodPost, apps+"/app_missing/scope-requests", admin, map[string]any{"scopes": []string{"cases:read"}}), http.StatusNotFound)
	c.do(c.jsonRequest(http.MethodPost, base+"/scope-decisions", admin, map[string]any{"scope": "webhooks:read", "decision": "approve"}), http.StatusOK)
	c.do(c.jsonRequest(http.MethodPost, base+"/scope-decisions", admin, map[string]any{"scope": "cases:read", "decision": "revoke"}), http.StatusConflict)
	c.do(c.jsonRequest(http.MethodPost, base+"/scope-decisions", admin, map[string]any{"scope": "cases:read", "decision": "maybe"}), http.StatusBadRequest)

	const policies = "/v1/platform/approval-policies"
	c.do(c.jsonRequest(http.MethodGet, policies, admin, nil), http.StatusOK)
	c.do(c.jsonRequest(http.MethodGet, policies+"/redirect_uri", admin, nil), http.StatusOK)
	c.do(c.jsonRequest(http.MethodGet, policies+"/scope", admin, nil), http.StatusNotFound)
	c.do(c.jsonRequest(http.MethodPut, policies+"/grant_type", admin, map[string]any{"approvals_required": 1}), http.StatusOK)
	c.do(c.jsonRequest(http.MethodPut, policies+"/grant_type", admin, map[string]any{"approvals_required": 11}), http.StatusBadRequest)
	c.do(c.jsonRequest(http.MethodPut, policies+"/grant_type", admin, map[string]any{"approvals_required": 2}, "If-Match", `"999"`), http.StatusPreconditionFailed)
	var rp appCreated
	c.decode(c.do(c.jsonRequest(http.MethodPost, apps, admin, map[string]any{"name": "code-flow", "grant_types": []string{"authorization_code"},
		"redirect_uris": []string{"https://rp.example.com/cb"}}), http.StatusCreated), &rp)
	c.do(c.jsonRequest(http.MethodPost, apps+"/"+rp.ID+"/scope-decisions", admin, map[string]any{"grant_type": "authorization_code", "decision": "approve"}), http.StatusOK)
	c.do(c.jsonRequest(http.MethodPost, apps+"/"+rp.ID+"/scope-decisions", admin, map[string]any{"redirect_uri": "https://rp.example.com/cb", "decision": "reject"}), http.StatusOK)
	c.do(c.jsonRequest(http.MethodPost, apps+"/"+rp.ID+"/scope-decisions", admin, map[string]any{"redirect_uri": "https://rp.example.com/other", "decision": "approve"}), http.StatusConflict)
	c.do(c.jsonRequest(http.MethodPost, apps+"/"+rp.ID+"/scope-decisions", admin, map[string]any{"scope": "cases:read", "grant_type": "authorization_code", "decision": "approve"}), http.StatusBadRequest)

	var sec struct {
		ID string `json:"id"`
	}
	c.decode(c.do(c.jsonRequest(http.MethodPost, base+"/secrets", admin, map[string]any{"grace_period_seconds": 60}), http.StatusCreated), &sec)
	c.do(c.jsonRequest(http.MethodPost, base+"/secrets", admin, map[string]any{"grace_period_seconds": -1}), http.StatusBadRequest)
	c.do(c.jsonRequest(http.MethodPost, base+"/secrets", admin, map[string]any{}, "If-Match", `"999"`), http.StatusPreconditionFailed)
	c.do(c.jsonRequest(http.MethodDelete, base+"/secrets/"+sec.ID, admin, nil), http.StatusNoContent)
	c.do(c.jsonRequest(http.MethodDelete, base+"/secrets/sec_missing", admin, nil), http.StatusNotFound)

	var tok struct {
		JTI string `json:"jti"`
	}
	c.decode(c.do(c.jsonRequest(http.MethodPost, base+"/tokens", admin, map[string]any{"ttl_seconds": 120}), http.StatusCreated), &tok)
	c.do(c.jsonRequest(http.MethodPost, base+"/tokens", admin, map[string]any{"scopes": []string{"cases:read"}}), http.StatusBadRequest)
	c.do(c.jsonRequest(http.MethodDelete, base+"/tokens/"+tok.JTI, admin, nil), http.StatusNoContent)
	c.do(c.jsonRequest(http.MethodDelete, apps+"/app_missing/tokens/"+tok.JTI, admin, nil), http.StatusNotFound)

	feed := "/v1/platform/events"
	c.do(c.jsonRequest(http.MethodGet, feed+"?limit=5", admin, nil), http.StatusOK)
	c.do(c.jsonRequest(http.MethodGet, feed+"?"+url.Values{"stream": {"events"}, "type": {"token.*"}}.Encode(), admin, nil), http.StatusOK)
	c.do(c.jsonRequest(http.MethodGet, feed+"?limit=0", admin, nil), http.StatusBadRequest)
}

package authz

import (
	"context"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// Approval policies (API.md "Users and sign-in": an app's
// authorization_code grant and each of its redirect URIs take effect once
// approved, "quorum as configured for the tenant"). A tenant has one
// policy per kind, grant_type and redirect_uri: approvals_required, the
// number of distinct admin actors whose approvals make one approved,
// exactly as a catalog scope's approvals_required does for a scope. A
// policy never set reads 1 (version 0). Reading them needs any valid
// token of the tenant (like the catalog); setting them
// platform:catalog:write.

// policyKinds are the subjects of approval policies.
var policyKinds = []string{events.SubjectGrantType, events.SubjectRedirectURI, events.SubjectCredentialCreate, events.SubjectCredentialDelete}

// approvalPolicyJSON is a policy as the API shows it.
type approvalPolicyJSON struct {
	Subject           string `json:"subject"`
	ApprovalsRequired int    `json:"approvals_required"`
	Version           uint64 `json:"version"`
}

// approvalPolicyBody is the body of PUT /v1/platform/approval-policies/{subject}.
type approvalPolicyBody struct {
	ApprovalsRequired int `json:"approvals_required"`
}

// registerPolicies adds the approval-policy routes under g.
func (c *Catalog) registerPolicies(g *echo.Group, auth *oauth.Authenticator) {
	g.GET("/approval-policies", c.listPolicies, auth.Require(""))
	g.GET("/approval-policies/:subject", c.getPolicy, auth.Require(""))
	g.PUT("/approval-policies/:subject", HandleBody(c.putPolicy), auth.Require("platform:catalog:write"))
}

func policyJSON(p projections.ApprovalPolicy) approvalPolicyJSON {
	return approvalPolicyJSON{Subject: p.Subject, ApprovalsRequired: max(p.ApprovalsRequired, 1), Version: p.Version}
}

func (c *Catalog) listPolicies(ctx echo.Context) error {
	tenant := oauth.PrincipalOf(ctx).Tenant
	items := make([]approvalPolicyJSON, 0, len(policyKinds))
	for _, k := range policyKinds {
		p, err := projections.GetApprovalPolicy(ctx.Request().Context(), c.Store, tenant, k)
		if err != nil {
			return err
		}
		items = append(items, policyJSON(p))
	}
	return ctx.JSON(http.StatusOK, Page[approvalPolicyJSON]{Items: items})
}

// policySubject is the {subject} of a policy route, 404 when it names none.
func policySubject(ctx echo.Context) (string, error) {
	s := ctx.Param("subject")
	if !slices.Contains(policyKinds, s) {
		return "", httpapi.NotFound("approval policy")
	}
	return s, nil
}

func (c *Catalog) getPolicy(ctx echo.Context) error {
	kind, err := policySubject(ctx)
	if err != nil {
		return err
	}
	p, err := projections.GetApprovalPolicy(ctx.Request().Context(), c.Store, oauth.PrincipalOf(ctx).Tenant, kind)
	if err != nil {
		return err
	}
	return Versioned(ctx, http.StatusOK, p.Version, policyJSON(p))
}

// putPolicy sets a policy's quorum. Approvals already given stay; the
// quorum applies to approvals made after it.
func (c *Catalog) putPolicy(reqCtx context.Context, ctx echo.Context, p oauth.Principal, req approvalPolicyBody) error {
	kind, err := policySubject(ctx)
	if err != nil {
		return err
	}
	var fe fieldErrs
	checkApprovals(&fe, req.ApprovalsRequired)
	if len(fe) > 0 {
		return httpapi.Validation(fe...)
	}
	cur, err := projections.GetApprovalPolicy(reqCtx, c.Store, p.Tenant, kind)
	if err != nil {
		return err
	}
	match, err := ifMatch(ctx, cur.Version)
	if err != nil {
		return err
	}
	err = c.command(reqCtx, p, events.ApprovalPolicyRef(p.Tenant, kind), func() (events.Payload, uint64, error) {
		cur, err := projections.GetApprovalPolicy(reqCtx, c.Store, p.Tenant, kind)
		if err = checkCurrent(err, cur.Version, match); err != nil {
			return nil, 0, err
		}
		if cur.Version > 0 && cur.ApprovalsRequired == req.ApprovalsRequired {
			return nil, 0, nil
		}
		return &events.ApprovalPolicySet{Subject: kind, ApprovalsRequired: req.ApprovalsRequired}, cur.LastSeq, nil
	})
	if err != nil {
		return err
	}
	pol, err := projections.GetApprovalPolicy(reqCtx, c.Store, p.Tenant, kind)
	if err != nil {
		return err
	}
	return Versioned(ctx, http.StatusOK, pol.Version, policyJSON(pol))
}

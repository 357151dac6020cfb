package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// health serves GET /healthz and GET /readyz (API.md "Operations").
type health struct {
	checks  []ReadinessCheck
	timeout time.Duration
}

var okBody = []byte(`{"status":"ok"}`)

// healthz answers 200 while the process serves HTTP at all.
func (h *health) healthz(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSONBlob(http.StatusOK, okBody)
}

// ReadyResponse is the 200 answer of /readyz.
type ReadyResponse struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// readyz runs every check, each within h.timeout, and answers 200 when all
// pass, else 503 unavailable naming the checks that failed (their errors
// are logged, not shown).
func (h *health) readyz(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	res := ReadyResponse{Status: "ok", Checks: make(map[string]string, len(h.checks))}
	var failed []string
	var errs []error
	for _, rc := range h.checks {
		if err := h.run(c.Request().Context(), rc); err != nil {
			failed = append(failed, rc.Name)
			errs = append(errs, fmt.Errorf("%s: %w", rc.Name, err))
			continue
		}
		res.Checks[rc.Name] = "ok"
	}
	if len(failed) > 0 {
		p := Unavailable(time.Second, errors.Join(errs...))
		p.Detail = "not ready: " + strings.Join(failed, ", ")
		return p
	}
	return c.JSON(http.StatusOK, res)
}

// run calls one check with a deadline.
func (h *health) run(ctx context.Context, rc ReadinessCheck) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	return rc.Check(ctx)
}

package console

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/authz"
)

// Delivery is one delivery with its attempts (authz.DeliveryView).
type Delivery struct{ authz.DeliveryView }

// Excerpt is the first 300 characters of an answer.
func (Delivery) Excerpt(s string) string {
	if r := []rune(s); len(r) > 300 {
		return string(r[:300]) + "…"
	}
	return s
}

// webhooksPage lists the subscriptions the person may read, 100 a page
// (reads.go: the list read without the API's JSON).
func (s *Console) webhooksPage(c echo.Context, p person) error {
	limit := 100
	page, err := authz.PageOf(&limit, c.QueryParam("cursor"))
	if err != nil {
		return s.readFailed(c, p, err)
	}
	hooks, err := s.cfg.Reads.ListWebhooks(c.Request().Context(), p.Principal, page)
	if err != nil {
		return s.readFailed(c, p, err)
	}
	return s.render(c, http.StatusOK, "webhooks", p, view{Title: "Webhooks", Nav: "webhooks", Data: hooks})
}

// webhookPage shows a subscription and its deliveries, each attempt's
// status code, duration and answer excerpt.
func (s *Console) webhookPage(c echo.Context, p person) error {
	id := url.PathEscape(c.Param("id"))
	var h authz.WebhookView
	if a, err := s.get(c, p.Principal, "/v1/webhooks/"+id, &h); err != nil || !a.ok() {
		return s.orFailed(c, p, a, err)
	}
	status := c.QueryParam("status")
	path := "/v1/webhooks/" + id + "/deliveries?limit=50"
	if status != "" {
		path += "&status=" + url.QueryEscape(status)
	}
	var ds authz.Page[Delivery]
	if a, err := s.get(c, p.Principal, path, &ds); err != nil || !a.ok() {
		return s.orFailed(c, p, a, err)
	}
	v := view{Title: "Webhook " + h.URL, Nav: "webhooks",
		Data: struct {
			Hook       authz.WebhookView
			Deliveries []Delivery
			Status     string
		}{h, ds.Items, status}}
	return s.render(c, http.StatusOK, "webhook", p, v)
}

// webhookAction sends a webhook action and comes back to its page.
func (s *Console) webhookAction(c echo.Context, p person, path string, body any, done string) error {
	return s.act(c, p, request{Method: http.MethodPost, Path: path, Body: body}, webhookURL(c.Param("id")), done)
}

func (s *Console) retry(c echo.Context, p person) error {
	return s.webhookAction(c, p, "/v1/webhooks/"+url.PathEscape(c.Param("id"))+"/deliveries/"+url.PathEscape(c.Param("delivery_id"))+"/retry",
		nil, "Retry started for delivery "+c.Param("delivery_id")+".")
}

func (s *Console) testWebhook(c echo.Context, p person) error {
	return s.webhookAction(c, p, "/v1/webhooks/"+url.PathEscape(c.Param("id"))+"/test", nil, "Test event sent.")
}

// rotateWebhookSecret rotates the signing secret and shows it once.
func (s *Console) rotateWebhookSecret(c echo.Context, p person) error {
	id := c.Param("id")
	return s.rotation(c, p, "/v1/webhooks/"+url.PathEscape(id)+"/secret/rotate", webhookURL(id), "webhooks", "Webhook secret rotated", "the webhook")
}

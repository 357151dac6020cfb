package authz

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// TestAnAppListsItsWebhooksFromItsIndex: an app's GET /v1/webhooks reads
// its own webhooks, not the tenant's: 2,000 webhooks of 100 apps, the
// app's 20 spread among them, come in full pages (before: a page of 5
// read at most 20 pages of the tenant's list and answered 1 webhook and a
// cursor), oldest first; a cursor of the tenant's list (what the filtered
// read answered before) goes on where it left off; the quota check counts
// the app's own webhooks only.
func TestAnAppListsItsWebhooksFromItsIndex(t *testing.T) {
	store := memory.New()
	fillWebhooks(t, store, "t_list", 2000, 100)
	ctx := context.Background()
	w := &Webhooks{Deps: Deps{Store: store}, PerApp: 21}
	p := oauth.Principal{Tenant: "t_list", AppID: benchApp(7)}
	var want []string
	for page := (projections.Page{Limit: 500}); ; {
		hooks, next, err := projections.ListWebhooks(ctx, store, "t_list", page)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hooks {
			if h.AppID == p.AppID {
				want = append(want, h.ID)
			}
		}
		if page.After = next; next == "" {
			break
		}
	}
	if len(want) != 20 {
		t.Fatalf("the app has %d webhooks", len(want))
	}
	var got []string
	for page := (projections.Page{Limit: 5}); ; {
		pg, err := w.listWebhooks(ctx, p, page)
		if err != nil {
			t.Fatal(err)
		}
		if pg.NextCursor != "" && len(pg.Items) != 5 {
			t.Fatalf("a page of %d webhooks with a cursor, after %v", len(pg.Items), got)
		}
		for _, h := range pg.Items {
			got = append(got, h.ID)
		}
		if page.After = pg.NextCursor; page.After == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	// The tenant list's cursor at the app's 3rd webhook goes on at its 4th.
	third, err := projections.GetWebhook(ctx, store, "t_list", want[2])
	if err != nil {
		t.Fatal(err)
	}
	cursor := projections.EncodeCursor(projections.SortTime(third.CreatedAt), third.ID)
	pg, err := w.listWebhooks(ctx, p, projections.Page{Limit: 50, After: cursor})
	if err != nil || len(pg.Items) != 17 || pg.Items[0].ID != want[3] || pg.NextCursor != "" {
		t.Fatalf("after the 3rd: %d webhooks, next %q, %v", len(pg.Items), pg.NextCursor, err)
	}
	if _, err := w.listWebhooks(ctx, p, projections.Page{Limit: 5, After: "not a cursor"}); !isValidation(err, "cursor") {
		t.Fatalf("a bad cursor: %v", err)
	}
	c, _, err := w.checkQuota(ctx, p)
	if err != nil || c.Payload.(*events.QuotaCounted).Count != 21 {
		t.Fatalf("quota: %+v, %v", c.Payload, err)
	}
	w.PerApp = 20
	var pr *httpapi.Problem
	if _, _, err := w.checkQuota(ctx, p); !errors.As(err, &pr) || pr.Status != 403 {
		t.Fatalf("quota at the cap: %v", err)
	}
}

// isValidation reports whether err is a validation_error on field.
func isValidation(err error, field string) bool {
	var pr *httpapi.Problem
	if !errors.As(err, &pr) {
		return false
	}
	for _, f := range pr.Errors {
		if f.Field == field {
			return true
		}
	}
	return false
}

package authz

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/projections"
)

// catalogPage answers one page of a catalog list (API.md "Conventions":
// ?limit=, ?cursor=, next_cursor): the built-in entries first, then the
// tenant's own from list, by name.
func catalogPage[T any](c echo.Context, builtins []T, list func(projections.Page) ([]T, string, error)) error {
	page, err := pageParams(c)
	if err != nil {
		return err
	}
	start, after, ok := parseCatalogCursor(page.After, len(builtins))
	if !ok {
		return badCursor()
	}
	out := Page[T]{Items: []T{}}
	if start < len(builtins) {
		end := min(start+page.Limit, len(builtins))
		out.Items = append(out.Items, builtins[start:end]...)
		if end < len(builtins) {
			out.NextCursor = catalogCursor("b" + strconv.Itoa(end))
			return c.JSON(http.StatusOK, out)
		}
	}
	rest := page.Limit - len(out.Items)
	if rest == 0 { // the page ends with the last built-in: does a tenant entry follow?
		more, _, err := list(projections.Page{Limit: 1})
		if err != nil {
			return err
		}
		if len(more) > 0 {
			out.NextCursor = catalogCursor("t")
		}
		return c.JSON(http.StatusOK, out)
	}
	items, next, err := list(projections.Page{Limit: rest, After: after})
	if errors.Is(err, projections.ErrInvalid) {
		return badCursor()
	}
	if err != nil {
		return err
	}
	out.Items = append(out.Items, items...)
	if next != "" {
		out.NextCursor = catalogCursor("t" + next)
	}
	return c.JSON(http.StatusOK, out)
}

// A catalog cursor is opaque to clients: "b<i>" resumes at built-in i,
// "t<cursor>" at the tenant's entries after the projection's cursor.
func catalogCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// parseCatalogCursor returns where a page starts: the index of the first
// built-in entry (builtins when none) and the projection cursor of the
// tenant's entries.
func parseCatalogCursor(cursor string, builtins int) (start int, after string, ok bool) {
	if cursor == "" {
		return 0, "", true
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, "", false
	}
	s := string(raw)
	if rest, found := strings.CutPrefix(s, "t"); found {
		return builtins, rest, true
	}
	if rest, found := strings.CutPrefix(s, "b"); found {
		i, err := strconv.Atoi(rest)
		return i, "", err == nil && i >= 0 && i < builtins && rest == strconv.Itoa(i)
	}
	return 0, "", false
}

func badCursor() error {
	return httpapi.Validation(httpapi.FieldError{Field: "cursor", Message: "is not a cursor this list returned"})
}

package authz

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
)

// OpenAPIPath is where the server serves its OpenAPI document.
const OpenAPIPath = "/v1/openapi.json"

// openAPISource is the OpenAPI 3.1 description of the whole HTTP API,
// written by hand in openapi.json: whoever adds or changes an endpoint
// changes it there in the same commit. Its tests keep it true: it must
// validate against the OpenAPI 3.1 schema, name every route the server
// registers and no other, and give each JSON type the field names of its
// Go struct.
//
//go:embed openapi.json
var openAPISource []byte

// OpenAPIDocument returns the document as served for issuer: its server
// is issuer, and the token URL of its OAuth 2.0 security scheme is
// absolute (the source names both relative to "/").
func OpenAPIDocument(issuer string) ([]byte, error) {
	doc := json.RawMessage(openAPISource)
	servers, err := json.Marshal([]map[string]string{{"url": issuer, "description": "The issuer."}})
	if err != nil {
		return nil, err
	}
	if doc, err = setJSON(doc, servers, "servers"); err != nil {
		return nil, err
	}
	tokenURL, err := json.Marshal(issuer + "/v1/oauth/token")
	if err != nil {
		return nil, err
	}
	return setJSON(doc, tokenURL, "components", "securitySchemes", "platformToken", "flows", "clientCredentials", "tokenUrl")
}

// setJSON returns the JSON object doc with the member at path set to v.
// Only the objects along path are re-encoded (their members sorted);
// everything else keeps the order it was written in.
func setJSON(doc, v json.RawMessage, path ...string) (json.RawMessage, error) {
	if len(path) == 0 {
		return v, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(doc, &obj); err != nil {
		return nil, fmt.Errorf("authz: openapi.json at %q: %w", path[0], err)
	}
	child, err := setJSON(obj[path[0]], v, path[1:]...)
	if err != nil {
		return nil, err
	}
	obj[path[0]] = child
	return json.Marshal(obj)
}

// RegisterOpenAPI adds GET /v1/openapi.json, the document for issuer, to
// e. It panics if the embedded document is not a JSON object, which its
// tests rule out.
func RegisterOpenAPI(e *echo.Echo, issuer string) {
	doc, err := OpenAPIDocument(issuer)
	if err != nil {
		panic(err)
	}
	e.GET(OpenAPIPath, func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=300")
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, doc)
	})
}

package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestHTTPCredentialsCertificatesCRLFAndList: a certificate credential
// whose PEM has Windows line endings (CRLF) is accepted and stored with
// LF; a lone CR is still refused (400). GET /v1/credentials?type=certificate
// lists the certificate credentials (paged), the default list the OAuth
// ones only; an unknown type is 400.
func TestHTTPCredentialsCertificatesCRLFAndList(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	certPEM, keyPEM := servertest.SelfSignedPEM(t)
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	type certificate struct {
		ID             string `json:"id"`
		Type           string `json:"type"`
		Name           string `json:"name"`
		CertificatePEM string `json:"certificate_pem"`
	}
	var c certificate
	want(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"type": "certificate", "name": "mtls one",
		"certificate_pem": crlf(certPEM), "private_key_pem": crlf(keyPEM)}), http.StatusCreated).JSON(t, &c)
	if c.CertificatePEM != certPEM || strings.Contains(c.CertificatePEM, "\r") {
		t.Fatalf("stored PEM %q", c.CertificatePEM)
	}
	pr := wantProblem(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"type": "certificate", "name": "lone cr",
		"certificate_pem": strings.ReplaceAll(certPEM, "\n", "\r"), "private_key_pem": keyPEM}), http.StatusBadRequest, "validation_error")
	if !strings.Contains(problemFields(pr), "certificate_pem") {
		t.Fatalf("lone CR refused as %+v", pr)
	}
	want(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"type": "certificate", "name": "mtls two",
		"certificate_pem": certPEM, "private_key_pem": keyPEM}), http.StatusCreated)
	want(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": "oauth", "provider": "github", "client_id": "cid", "client_secret": "cs"}), http.StatusCreated)

	var certs struct {
		Items      []certificate `json:"items"`
		NextCursor string        `json:"next_cursor"`
	}
	want(t, s.Do(http.MethodGet, "/v1/credentials?type=certificate&limit=1", admin, nil), http.StatusOK).JSON(t, &certs)
	if len(certs.Items) != 1 || certs.Items[0].ID != c.ID || certs.Items[0].Type != "certificate" || certs.NextCursor == "" {
		t.Fatalf("first page %+v", certs)
	}
	next := certs.NextCursor
	certs.NextCursor = ""
	want(t, s.Do(http.MethodGet, "/v1/credentials?type=certificate&limit=1&cursor="+next, admin, nil), http.StatusOK).JSON(t, &certs)
	if len(certs.Items) != 1 || certs.Items[0].Name != "mtls_two" || certs.NextCursor != "" {
		t.Fatalf("second page %+v", certs)
	}

	var oauth struct {
		Items []credential `json:"items"`
	}
	for _, q := range []string{"", "?type=oauth2"} {
		want(t, s.Do(http.MethodGet, "/v1/credentials"+q, admin, nil), http.StatusOK).JSON(t, &oauth)
		if len(oauth.Items) != 1 || oauth.Items[0].Name != "oauth" {
			t.Fatalf("list%s %+v", q, oauth.Items)
		}
	}
	wantProblem(t, s.Do(http.MethodGet, "/v1/credentials?type=secret", admin, nil), http.StatusBadRequest, "validation_error")
}

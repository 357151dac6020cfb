package vault

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/webhooks"
)

// testCert makes a CA-signed client certificate (PEM) and its key (PKCS#8
// PEM), or a self-signed CA when parent is nil.
func testCert(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (string, string, *x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	signer, signKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
	} else {
		signer, signKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p8, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})), cert, key
}

// TestParseCertificate: a matching pair parses; PEM errors, a key of
// another certificate and stray text are field errors that never echo
// the key.
func TestParseCertificate(t *testing.T) {
	_, _, ca, caKey := testCert(t, "ca", nil, nil)
	certPEM, keyPEM, _, _ := testCert(t, "client", ca, caKey)
	_, otherKey, _, _ := testCert(t, "other", ca, caKey)
	if der, leaf, fe := parseCertificate(certPEM, keyPEM); len(fe) != 0 || len(der) == 0 || leaf.Subject.CommonName != "client" {
		t.Fatalf("a good pair: %v", fe)
	}
	for name, tc := range map[string][2]string{
		"no certificate":   {"", keyPEM},
		"not PEM":          {"hello", keyPEM},
		"key as cert":      {keyPEM, keyPEM},
		"garbage DER":      {string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("nope")})), keyPEM},
		"trailing text":    {certPEM + "trailing", keyPEM},
		"no key":           {certPEM, ""},
		"key not PEM":      {certPEM, "secret-ish"},
		"another key":      {certPEM, otherKey},
		"unsupported type": {certPEM, strings.ReplaceAll(keyPEM, "PRIVATE KEY", "OPENSSH PRIVATE KEY")},
	} {
		_, _, fe := parseCertificate(tc[0], tc[1])
		if len(fe) == 0 {
			t.Fatalf("%s: accepted", name)
		}
		for _, f := range fe {
			if strings.Contains(f.Message, "PRIVATE KEY-----") || strings.Contains(f.Message, keyPEM[40:70]) {
				t.Fatalf("%s: the message echoes the key: %s", name, f.Message)
			}
		}
	}
}

// TestMTLSClient: a token endpoint that requires a client certificate
// (an httptest TLS server, RequireAndVerifyClientCert) refuses the
// guarded client without one and answers the client presenting the
// certificate credential, which it sees as the TLS peer (RFC 8705 §2).
func TestMTLSClient(t *testing.T) {
	_, _, ca, caKey := testCert(t, "ca", nil, nil)
	certPEM, keyPEM, _, _ := testCert(t, "vault-client", ca, caKey)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	var peer string
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		peer = r.TLS.PeerCertificates[0].Subject.CommonName
		if r.PostForm.Get("client_id") != "mtls-client" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"mtls-bound-token","token_type":"Bearer","expires_in":600}`))
	}))
	up.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	up.StartTLS()
	defer up.Close()
	base := webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: true, Timeout: 5 * time.Second})
	roots := x509.NewCertPool()
	roots.AddCert(up.Certificate())
	base.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	ep := endpoint{tokenURL: up.URL, clientID: "mtls-client", scopeSeparator: " "}
	form := func() url.Values { return url.Values{"grant_type": {"client_credentials"}} }

	if _, err := requestToken(t.Context(), base, ep, form()); err == nil {
		t.Fatal("the token endpoint answered a client without a certificate")
	}
	der, _, fe := parseCertificate(certPEM, keyPEM)
	if len(fe) != 0 {
		t.Fatal(fe)
	}
	cl, err := mtlsClient(base, certPEM, der)
	if err != nil {
		t.Fatal(err)
	}
	a, err := requestToken(t.Context(), cl, ep, form())
	if err != nil || a.tokens.AccessToken != "mtls-bound-token" || peer != "vault-client" {
		t.Fatalf("mTLS request: %+v %v (peer %q)", a, err, peer)
	}
	if base.Transport.(*http.Transport).TLSClientConfig.Certificates != nil {
		t.Fatal("the shared client was changed")
	}
}

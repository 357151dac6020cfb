package e2e

import (
	"cmp"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The vault's interactive grants (authorization_code through the
// upstream's own login and consent pages in Chromium; implicit through
// the relay page), certificate credentials and mTLS towards a token
// endpoint, and collections, against the real binary.

type interactiveCredential struct {
	credentialView
	AuthorizeURL      string  `json:"authorize_url"`
	CollectionID      *string `json:"collection_id"`
	MTLSCertificateID *string `json:"mtls_certificate_id"`
}

// TestVaultAuthorizationCodeInBrowser: a second Gatehouse is the
// provider. The credential's authorize_url takes a person (Chromium)
// through the upstream's login and consent pages back to the vault's
// callback, whose page says the credential is authorized; the token set
// is a version (reason authorized). The same callback URL again (a
// replayed state) is refused with a 400 page; a provider error changes
// nothing. Forced refreshes then use the upstream's refresh-token
// rotation: each presents the newest refresh token (a reused one would
// make the upstream revoke the family, and the next refresh fail), also
// after a rollback to the first token set.
func TestVaultAuthorizationCodeInBrowser(t *testing.T) {
	t.Parallel()
	up := startServer(t)
	ua := adminAPI(t, up)
	vs := startServer(t, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"))
	watchUpstreamTokens(vs)
	va := adminAPI(t, vs)
	app := createCodeApp(t, ua, vs.URL+"/v1/credentials/callback")
	person := newPerson(t, ua)

	r := va.call(http.MethodPost, "/v1/credentials", map[string]any{"name": "upstream sign-in", "provider": "custom",
		"client_id": app.ClientID, "client_secret": app.ClientSecret, "auth_url": up.URL + "/v1/oauth/authorize",
		"token_url": up.URL + "/v1/oauth/token", "scopes": []string{"openid", "offline_access", "cases:read"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %s", r)
	}
	var c interactiveCredential
	r.decode(t, &c)
	if c.Status != "pending_authorization" || !strings.HasPrefix(c.AuthorizeURL, up.URL+"/v1/oauth/authorize?") {
		t.Fatalf("created %s", r)
	}

	bctx := chromium(t)
	err := chromedp.Do(bctx,
		chromedp.Navigate(c.AuthorizeURL),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), person.email),
		chromedp.SendKeys(chromedp.CSS(`#password`), browserPassword),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value=approve]`)),
		chromedp.Click(chromedp.CSS(`button[value=approve]`)),
		chromedp.WaitVisible(chromedp.CSS(`h1.ok`)),
	)
	if err != nil {
		t.Fatalf("sign in at the upstream: %v", err)
	}
	text, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`main`)))
	if err != nil || !strings.Contains(text, "upstream_sign-in is authorized") {
		t.Fatalf("callback page %q %v", text, err)
	}
	screenshot(t, bctx, "vault-authorized")
	callback, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil || !strings.HasPrefix(callback, vs.URL+"/v1/credentials/callback?") {
		t.Fatalf("callback URL %q %v", callback, err)
	}
	one := "/v1/credentials/" + c.ID
	var got interactiveCredential
	va.call(http.MethodGet, one, nil).decode(t, &got)
	if got.Status != "active" || got.ExpiresAt == nil {
		t.Fatalf("after the callback: %+v", got)
	}
	var vers struct {
		Items []credentialVersion `json:"items"`
	}
	va.call(http.MethodGet, one+"/versions", nil).decode(t, &vers)
	if len(vers.Items) != 1 || vers.Items[0].Reason != "authorized" {
		t.Fatalf("versions %+v", vers.Items)
	}

	// The same answer again: the state is used.
	u, _ := url.Parse(callback)
	if r := va.call(http.MethodGet, u.RequestURI(), nil); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "already been used") {
		t.Fatalf("replayed state: %s", r)
	}
	// A provider error: a 400 page, the credential unchanged.
	var again struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	va.call(http.MethodPost, one+"/authorize", nil).decode(t, &again)
	au, _ := url.Parse(again.AuthorizeURL)
	denied := "/v1/credentials/callback?error=access_denied&state=" + url.QueryEscape(au.Query().Get("state"))
	if r := va.call(http.MethodGet, denied, nil); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "access_denied") {
		t.Fatalf("provider error: %s", r)
	}
	var after interactiveCredential
	va.call(http.MethodGet, one, nil).decode(t, &after)
	if after.Version != got.Version || after.Status != "active" {
		t.Fatalf("a refused authorization changed the credential: %d → %d %s", got.Version, after.Version, after.Status)
	}

	// The upstream rotates its refresh tokens: three forced refreshes in a
	// row, each with the newest one.
	for i := range 3 {
		if r := va.call(http.MethodPost, one+"/refresh", nil); r.Status != http.StatusOK {
			t.Fatalf("forced refresh %d: %s", i+1, r)
		}
	}
	// A rollback to the authorized token set, then a refresh: it presents
	// the newest refresh token, not the rolled-back one (which the
	// upstream has retired: presenting it would revoke the family).
	if r := va.call(http.MethodPost, one+"/rollback", map[string]any{"version": 1}); r.Status != http.StatusOK {
		t.Fatalf("rollback: %s", r)
	}
	if r := va.call(http.MethodPost, one+"/refresh", nil); r.Status != http.StatusOK {
		t.Fatalf("refresh after the rollback: %s", r)
	}
	var h credentialHealth
	va.call(http.MethodGet, one+"/health", nil).decode(t, &h)
	va.call(http.MethodGet, one+"/versions", nil).decode(t, &vers)
	if h.Status != "active" || h.ConsecutiveFailures != 0 || len(vers.Items) != 5 || vers.Items[0].Reason != "forced" || !vers.Items[0].Current {
		t.Fatalf("after the refreshes: %+v %+v", h, vers.Items)
	}
}

// fakeProvider is an OAuth 2.0 provider of the test's own (Gatehouse
// does not do the implicit grant): its authorization endpoint answers at
// once (a code, the implicit fragment, or access_denied), its token
// endpoint checks the code, the redirect_uri and the PKCE verifier, and
// answers refusals when told to. Every token it issues and every
// verifier it is shown goes to the leak watch.
type fakeProvider struct {
	srv *httptest.Server
	mu  sync.Mutex
	// deny answers access_denied; refuse answers invalid_grant at the
	// token endpoint.
	deny, refuse bool
	// implicitTTL is the implicit token's expires_in (0: 2 s).
	implicitTTL int
	codes       map[string]url.Values
	verified    int
}

func newFakeProvider(t *testing.T) *fakeProvider {
	p := &fakeProvider{codes: map[string]url.Values{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		p.mu.Lock()
		defer p.mu.Unlock()
		back := q.Get("redirect_uri")
		state := url.QueryEscape(q.Get("state"))
		switch {
		case p.deny:
			http.Redirect(w, r, back+"?error=access_denied&state="+state, http.StatusFound)
		case q.Get("response_type") == "token":
			tok := "implicit-" + rand.Text()
			leaks.add(tok)
			ttl := cmp.Or(p.implicitTTL, 2)
			http.Redirect(w, r, back+"#access_token="+tok+"&token_type=bearer&expires_in="+strconv.Itoa(ttl)+"&scope=legacy&state="+state, http.StatusFound)
		default:
			code := "code-" + rand.Text()
			p.codes[code] = q
			http.Redirect(w, r, back+"?code="+code+"&state="+state, http.StatusFound)
		}
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		p.mu.Lock()
		defer p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		q, ok := p.codes[r.PostForm.Get("code")]
		delete(p.codes, r.PostForm.Get("code"))
		v := r.PostForm.Get("code_verifier")
		leaks.add(v)
		sum := sha256.Sum256([]byte(v))
		if p.refuse || !ok || r.PostForm.Get("grant_type") != "authorization_code" || q.Get("redirect_uri") != r.PostForm.Get("redirect_uri") ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != q.Get("code_challenge") {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"the code is not valid"}`))
			return
		}
		p.verified++
		at, rt := "fake-access-"+rand.Text(), "fake-refresh-"+rand.Text()
		leaks.add(at)
		leaks.add(rt)
		_, _ = fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600,"refresh_token":%q}`, at, rt)
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakeProvider) set(deny, refuse bool) {
	p.mu.Lock()
	p.deny, p.refuse = deny, refuse
	p.mu.Unlock()
}

// follow is where the provider's authorization endpoint sends the
// browser (it answers at once): the vault's callback URL.
func follow(t *testing.T, authorizeURL string) *url.URL {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(authorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("the provider answered %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	return loc
}

// mtlsFixture is a CA, a client certificate it signed (PEM, key PEM),
// and a token endpoint that requires a certificate of that CA (TLS,
// RequireAndVerifyClientCert), whose own certificate is in certFile.
type mtlsFixture struct {
	certPEM, keyPEM, otherKeyPEM string
	srv                          *httptest.Server
	certFile                     string
	mu                           sync.Mutex
	peers                        []string
}

func newMTLSFixture(t *testing.T) *mtlsFixture {
	t.Helper()
	mk := func(cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, string, string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
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
		// The key's base64 body is a secret for the leak watch (its PEM
		// header is found by the private key search anyway).
		leaks.add(base64.StdEncoding.EncodeToString(p8)[:48])
		return cert, key, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
			string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}))
	}
	ca, caKey, _, _ := mk("e2e client CA", nil, nil)
	f := &mtlsFixture{}
	_, _, f.certPEM, f.keyPEM = mk("vault-mtls-client", ca, caKey)
	_, _, _, f.otherKeyPEM = mk("someone else", ca, caKey)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		f.peers = append(f.peers, r.TLS.PeerCertificates[0].Subject.CommonName+" "+r.PostForm.Get("client_id"))
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if _, _, basic := r.BasicAuth(); basic || r.PostForm.Get("client_secret") != "" {
			w.WriteHeader(http.StatusBadRequest) // RFC 8705: the certificate alone authenticates
			_, _ = w.Write([]byte(`{"error":"invalid_request"}`))
			return
		}
		at := "mtls-access-" + rand.Text()
		leaks.add(at)
		_, _ = fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, at)
	}))
	f.srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	f.certFile = filepath.Join(t.TempDir(), "token-endpoint.pem")
	if err := os.WriteFile(f.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestVaultInteractiveRoutes walks the interactive grants against a
// provider of the test's own, certificate credentials with an mTLS
// token endpoint, and collections: each documented status is provoked
// and checked.
func TestVaultInteractiveRoutes(t *testing.T) {
	t.Parallel()
	prov := newFakeProvider(t)
	mt := newMTLSFixture(t)
	// SSL_CERT_FILE: the vault trusts the test token endpoint's
	// certificate (and nothing else; it talks to loopback only).
	vs := startServer(t, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"), func(env map[string]string) { env["SSL_CERT_FILE"] = mt.certFile })
	a := adminAPI(t, vs)
	expect := func(want int, method, path string, body any, headers ...string) reply {
		t.Helper()
		r := a.call(method, path, body, headers...)
		if r.Status != want {
			t.Fatalf("%s %s: want %d, got %s", method, path, want, r)
		}
		return r
	}

	// authorization_code: the state and PKCE round trip; a replay, a
	// forged state, a provider error and a refused exchange are refused.
	var c interactiveCredential
	expect(http.StatusCreated, http.MethodPost, "/v1/credentials", map[string]any{"name": "fake code", "provider": "custom",
		"client_id": "fake-client", "client_secret": "fake-client-secret-0123456789", "auth_url": prov.srv.URL + "/authorize",
		"token_url": prov.srv.URL + "/token", "scopes": []string{"read"}}).decode(t, &c)
	cb := follow(t, c.AuthorizeURL)
	if r := expect(http.StatusOK, http.MethodGet, cb.RequestURI(), nil); !strings.Contains(string(r.Body), "is authorized") {
		t.Fatalf("callback page %s", r)
	}
	expect(http.StatusBadRequest, http.MethodGet, cb.RequestURI(), nil)
	expect(http.StatusBadRequest, http.MethodGet, strings.Replace(cb.RequestURI(), "state=", "state=x", 1), nil)
	one := "/v1/credentials/" + c.ID
	var ok interactiveCredential
	expect(http.StatusOK, http.MethodGet, one, nil).decode(t, &ok)
	prov.set(true, false)
	var au struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	expect(http.StatusPreconditionFailed, http.MethodPost, one+"/authorize", nil, "If-Match", fmt.Sprintf(`"%d"`, ok.Version+7)) // a stale page
	expect(http.StatusOK, http.MethodPost, one+"/authorize", nil, "If-Match", fmt.Sprintf(`"%d"`, ok.Version)).decode(t, &au)
	expect(http.StatusBadRequest, http.MethodGet, follow(t, au.AuthorizeURL).RequestURI(), nil)
	prov.set(false, true)
	expect(http.StatusOK, http.MethodPost, one+"/authorize", nil).decode(t, &au)
	if r := expect(http.StatusBadGateway, http.MethodGet, follow(t, au.AuthorizeURL).RequestURI(), nil); !strings.Contains(string(r.Body), "invalid_grant") {
		t.Fatalf("refused exchange page %s", r)
	}
	prov.set(false, false)
	var same interactiveCredential
	expect(http.StatusOK, http.MethodGet, one, nil).decode(t, &same)
	if same.Version != ok.Version || same.Status != "active" || prov.verified != 1 {
		t.Fatalf("refusals changed the credential (%d → %d, %s) or PKCE was not checked (%d)", ok.Version, same.Version, same.Status, prov.verified)
	}
	expect(http.StatusNotFound, http.MethodPost, "/v1/credentials/cred_missing/authorize", nil)

	// implicit: the relay page hands the fragment over; the token set
	// expires (no refresh) and the credential asks to be authorized again.
	var imp interactiveCredential
	expect(http.StatusCreated, http.MethodPost, "/v1/credentials", map[string]any{"name": "legacy", "provider": "custom",
		"grant_type": "implicit", "client_id": "fake-client", "auth_url": prov.srv.URL + "/authorize"}).decode(t, &imp)
	back := follow(t, imp.AuthorizeURL)
	frag, _ := url.ParseQuery(back.Fragment)
	relay := expect(http.StatusOK, http.MethodGet, back.Path, nil)
	if !strings.Contains(string(relay.Body), "location.hash") || !strings.Contains(relay.Header.Get("Content-Security-Policy"), "script-src 'nonce-") {
		t.Fatalf("relay page %s", relay)
	}
	if r := a.form("/v1/credentials/callback", frag, "", ""); r.Status != http.StatusOK {
		t.Fatalf("implicit callback: %s", r)
	}
	if r := a.form("/v1/credentials/callback", frag, "", ""); r.Status != http.StatusBadRequest {
		t.Fatalf("implicit callback replayed: %s", r)
	}
	waitFor(t, 15*time.Second, "the implicit token set to expire", func() bool {
		var v interactiveCredential
		expect(http.StatusOK, http.MethodGet, "/v1/credentials/"+imp.ID, nil).decode(t, &v)
		return v.Status == "expired"
	})
	expect(http.StatusConflict, http.MethodPost, "/v1/credentials/"+imp.ID+"/refresh", nil)
	expect(http.StatusOK, http.MethodPost, "/v1/credentials/"+imp.ID+"/authorize", nil)

	// Certificate credentials: PEM errors and a key of another
	// certificate are 400; the answer never shows the key.
	certBody := func(name, cert, key string) map[string]any {
		return map[string]any{"type": "certificate", "name": name, "certificate_pem": cert, "private_key_pem": key}
	}
	expect(http.StatusBadRequest, http.MethodPost, "/v1/credentials", certBody("bad", "not pem", mt.keyPEM))
	expect(http.StatusBadRequest, http.MethodPost, "/v1/credentials", certBody("bad", mt.certPEM, mt.otherKeyPEM))
	var cert struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Subject string `json:"subject"`
	}
	r := expect(http.StatusCreated, http.MethodPost, "/v1/credentials", certBody("client cert", mt.certPEM, mt.keyPEM))
	r.decode(t, &cert)
	if cert.Type != "certificate" || cert.Subject != "CN=vault-mtls-client" || strings.Contains(string(r.Body), "PRIVATE") {
		t.Fatalf("certificate %s", r)
	}
	expect(http.StatusOK, http.MethodGet, "/v1/credentials/"+cert.ID, nil)

	// mTLS: client_credentials with the certificate and no secret.
	mtlsBody := func(certID string) map[string]any {
		return map[string]any{"name": "mtls", "provider": "custom", "grant_type": "client_credentials", "client_id": "mtls-client",
			"token_url": mt.srv.URL + "/token", "scopes": []string{}, "mtls_certificate_id": certID}
	}
	expect(http.StatusBadRequest, http.MethodPost, "/v1/credentials", mtlsBody("ccrt_missing"))
	var m interactiveCredential
	expect(http.StatusCreated, http.MethodPost, "/v1/credentials", mtlsBody(cert.ID)).decode(t, &m)
	mt.mu.Lock()
	peers := strings.Join(mt.peers, ",")
	mt.mu.Unlock()
	if m.Status != "active" || m.MTLSCertificateID == nil || *m.MTLSCertificateID != cert.ID || peers != "vault-mtls-client mtls-client" {
		t.Fatalf("mTLS credential %+v, token endpoint saw %q", m, peers)
	}
	expect(http.StatusOK, http.MethodPost, "/v1/credentials/"+m.ID+"/refresh", nil)
	expect(http.StatusConflict, http.MethodPost, "/v1/credentials/"+m.ID+"/authorize", nil) // not an interactive grant
	expect(http.StatusConflict, http.MethodDelete, "/v1/credentials/"+cert.ID, nil)         // in use
	expect(http.StatusNoContent, http.MethodDelete, "/v1/credentials/"+m.ID, nil)
	expect(http.StatusNoContent, http.MethodDelete, "/v1/credentials/"+cert.ID, nil)
	expect(http.StatusNotFound, http.MethodGet, "/v1/credentials/"+cert.ID, nil)

	// Collections.
	var coll struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Credentials int    `json:"credentials"`
		Version     uint64 `json:"version"`
	}
	expect(http.StatusBadRequest, http.MethodPost, "/v1/collections", map[string]any{"name": ""})
	expect(http.StatusCreated, http.MethodPost, "/v1/collections", map[string]any{"name": "crm tools"}).decode(t, &coll)
	expect(http.StatusConflict, http.MethodPost, "/v1/collections", map[string]any{"name": "crm tools"})
	expect(http.StatusOK, http.MethodGet, "/v1/collections", nil)
	expect(http.StatusBadRequest, http.MethodGet, "/v1/collections?limit=nope", nil)
	expect(http.StatusNotFound, http.MethodGet, "/v1/collections/coll_missing", nil)
	grouped := map[string]any{"name": "grouped", "provider": "custom", "grant_type": "implicit", "client_id": "fake-client",
		"auth_url": prov.srv.URL + "/authorize", "collection_id": "coll_missing"}
	expect(http.StatusBadRequest, http.MethodPost, "/v1/credentials", grouped)
	grouped["collection_id"] = coll.ID
	var g interactiveCredential
	expect(http.StatusCreated, http.MethodPost, "/v1/credentials", grouped).decode(t, &g)
	expect(http.StatusOK, http.MethodGet, "/v1/collections/"+coll.ID, nil).decode(t, &coll)
	if g.CollectionID == nil || *g.CollectionID != coll.ID || coll.Credentials != 1 {
		t.Fatalf("grouped %+v in %+v", g, coll)
	}
	expect(http.StatusConflict, http.MethodDelete, "/v1/collections/"+coll.ID, nil) // not empty
	expect(http.StatusBadRequest, http.MethodPatch, "/v1/credentials/"+g.ID, map[string]any{"collection_id": "coll_missing"})
	expect(http.StatusOK, http.MethodPatch, "/v1/credentials/"+g.ID, map[string]any{"collection_id": ""}).decode(t, &g)
	if g.CollectionID != nil {
		t.Fatalf("still in a collection: %+v", g)
	}
	expect(http.StatusPreconditionFailed, http.MethodDelete, "/v1/collections/"+coll.ID, nil, "If-Match", `"99"`)
	expect(http.StatusNoContent, http.MethodDelete, "/v1/collections/"+coll.ID, nil)
	expect(http.StatusNotFound, http.MethodDelete, "/v1/collections/"+coll.ID, nil)

	// Nothing of the above in the clear in an answer: the implicit token
	// never came back.
	if body := a.call(http.MethodGet, "/v1/credentials?limit=100", nil).Body; strings.Contains(string(body), frag.Get("access_token")) {
		t.Fatal("the implicit token is in the list")
	}
}

// TestVaultImplicitExpiringAlert: an implicit credential's token set (30
// s, no refresh token) is never refreshed (its health shows no next
// refresh) but the credential.expiring alert reaches a webhook receiver
// ahead of its expiry (the refresh lead: half its life here), once; the
// server restarted (the projections rebuilt from the log) sends no
// second one, and the credential expires.
func TestVaultImplicitExpiringAlert(t *testing.T) {
	t.Parallel()
	prov := newFakeProvider(t)
	prov.implicitTTL = 30
	vs := startServer(t, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"))
	a := adminAPI(t, vs)
	rcv := newReceiver(t)
	if r := a.call(http.MethodPost, "/v1/webhooks", map[string]any{"url": rcv.srv.URL, "events": []string{"credential.expiring"}}); r.Status != http.StatusCreated {
		t.Fatalf("webhook: %s", r)
	}
	var imp interactiveCredential
	if r := a.call(http.MethodPost, "/v1/credentials", map[string]any{"name": "legacy alerting", "provider": "custom",
		"grant_type": "implicit", "client_id": "fake-client", "auth_url": prov.srv.URL + "/authorize"}); r.Status != http.StatusCreated {
		t.Fatalf("create: %s", r)
	} else {
		r.decode(t, &imp)
	}
	back := follow(t, imp.AuthorizeURL)
	frag, _ := url.ParseQuery(back.Fragment)
	if r := a.form("/v1/credentials/callback", frag, "", ""); r.Status != http.StatusOK {
		t.Fatalf("implicit callback: %s", r)
	}
	one := "/v1/credentials/" + imp.ID
	var h credentialHealth
	a.call(http.MethodGet, one+"/health", nil).decode(t, &h)
	if h.Status != "active" || h.ExpiresAt == nil || h.NextRefreshAt != nil {
		t.Fatalf("authorized health %+v", h)
	}
	alerts := func() []received {
		var out []received
		for _, g := range rcv.received() {
			if g.Type == "credential.expiring" && g.Data["credential_id"] == imp.ID {
				out = append(out, g)
			}
		}
		return out
	}
	waitFor(t, 28*time.Second, "the expiring alert", func() bool { return len(alerts()) > 0 })
	got := alerts()
	if at, _ := time.Parse(time.RFC3339, fmt.Sprint(got[0].Data["expires_at"])); !at.Equal(*h.ExpiresAt) || !got[0].At.Before(*h.ExpiresAt) {
		t.Fatalf("alert %+v for a token set expiring at %s", got[0], h.ExpiresAt)
	}

	// Restarted: nothing new by the time the token set has expired.
	if err := vs.stop(); err != nil {
		t.Fatal(err)
	}
	vs.restart(t)
	waitFor(t, 40*time.Second, "the implicit token set to expire", func() bool {
		var v interactiveCredential
		a.call(http.MethodGet, one, nil).decode(t, &v)
		return v.Status == "expired"
	})
	ids := map[string]bool{}
	for _, g := range alerts() {
		ids[g.ID] = true
	}
	if len(ids) != 1 {
		t.Fatalf("%d expiring alerts (webhook ids %v) for one token set", len(ids), ids)
	}
}

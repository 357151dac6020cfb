package vault

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/sealing"
)

// This file is certificate credentials (API.md: POST /v1/credentials
// {"type": "certificate", "name", "certificate_pem", "private_key_pem"})
// and the client that presents one at a provider's token endpoint
// (mutual-TLS client authentication, RFC 8705 §2).

// StateKeyLabel derives the key that signs interactive authorizations'
// state (sealing.Keys.Key).
const StateKeyLabel sealing.Label = "gatehouse credential state hmac v1"

// maxPEM bounds certificate_pem and private_key_pem.
const maxPEM = 64 << 10

func privateKeyAAD(id string) string { return id + "/private_key" }

// certificateJSON is a certificate credential as answered (never its
// private key).
type certificateJSON struct {
	ID             string `json:"id"`
	Type           string `json:"type"`
	Name           string `json:"name"`
	CertificatePEM string `json:"certificate_pem"`
	events.CertificateDetails
	UsedBy    []string  `json:"used_by"`
	CreatedAt time.Time `json:"created_at"`
	Version   uint64    `json:"version"`
}

func certJSON(c projections.Certificate) certificateJSON {
	return certificateJSON{ID: c.ID, Type: "certificate", Name: c.Name, CertificatePEM: c.CertificatePEM,
		CertificateDetails: c.CertificateDetails, UsedBy: c.Users, CreatedAt: c.CreatedAt, Version: c.Version}
}

// isCertificateID tells a certificate credential's id from an OAuth
// credential's (both live under /v1/credentials/{id}).
func isCertificateID(id string) bool { return strings.HasPrefix(id, "ccrt_") }

// parseCertificate checks a certificate chain and its private key: PEM
// that parses, a leaf first, a key that is the leaf's. It returns the
// key as PKCS#8 DER and the leaf; the messages never echo the key.
func parseCertificate(certPEM, keyPEM string) ([]byte, *x509.Certificate, []httpapi.FieldError) {
	var fe []httpapi.FieldError
	bad := func(f, m string) { fe = append(fe, httpapi.FieldError{Field: f, Message: m}) }
	var chain [][]byte
	rest := []byte(certPEM)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			bad("certificate_pem", "must hold only CERTIFICATE PEM blocks")
			break
		}
		chain = append(chain, b.Bytes)
	}
	var leaf *x509.Certificate
	switch {
	case certPEM == "":
		bad("certificate_pem", "is required")
	case len(certPEM) > maxPEM:
		bad("certificate_pem", "must be at most 64 KiB")
	case len(chain) == 0:
		bad("certificate_pem", "is not PEM: expected -----BEGIN CERTIFICATE-----")
	case strings.TrimSpace(string(rest)) != "":
		bad("certificate_pem", "holds text after its last PEM block")
	default:
		var err error
		if leaf, err = x509.ParseCertificate(chain[0]); err != nil {
			bad("certificate_pem", "is not an X.509 certificate: "+clip(err.Error(), 120))
		}
	}
	var key any
	switch kb, krest := pem.Decode([]byte(keyPEM)); {
	case keyPEM == "":
		bad("private_key_pem", "is required")
	case len(keyPEM) > maxPEM:
		bad("private_key_pem", "must be at most 64 KiB")
	case kb == nil:
		bad("private_key_pem", "is not PEM: expected a PRIVATE KEY block")
	case strings.TrimSpace(string(krest)) != "":
		bad("private_key_pem", "must hold one PEM block")
	default:
		var err error
		switch kb.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(kb.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(kb.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(kb.Bytes)
		default:
			err = errors.New("unsupported PEM type " + clip(kb.Type, 40))
		}
		if err != nil {
			bad("private_key_pem", "is not a private key (PKCS#8, PKCS#1 or SEC 1)")
			key = nil
		}
	}
	if len(fe) > 0 {
		return nil, nil, fe
	}
	if _, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM)); err != nil {
		bad("private_key_pem", "does not match the certificate's public key")
		return nil, nil, fe
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		bad("private_key_pem", "is a key type that cannot be used")
		return nil, nil, fe
	}
	return der, leaf, nil
}

// createCertificate answers POST /v1/credentials {"type": "certificate"}.
func (a *API) createCertificate(c echo.Context, req createRequest) error {
	ctx := c.Request().Context()
	p := oauth.PrincipalOf(c)
	var fe []httpapi.FieldError
	name, msg := normalizeName(req.Name)
	if msg != "" {
		fe = append(fe, httpapi.FieldError{Field: "name", Message: msg})
	}
	for field, set := range map[string]bool{"provider": req.Provider != "", "client_id": req.ClientID != "", "client_secret": req.ClientSecret != "",
		"encrypted_client_secret": req.EncryptedSecret != "", "grant_type": req.GrantType != "", "scopes": req.Scopes != nil,
		"auth_url": req.AuthURL != "", "token_url": req.TokenURL != "", "username": req.Username != "", "password": req.Password != "",
		"base_url": req.BaseURL != "", "mtls_certificate_id": req.MTLSCertificateID != "", "collection_id": req.CollectionID != "",
		"secret_type": req.SecretType != nil, "grants": req.Grants != nil, "refresh_before_seconds": req.RefreshBeforeSeconds != nil} {
		if set {
			fe = append(fe, httpapi.FieldError{Field: field, Message: "is not a field of a certificate credential"})
		}
	}
	// PEM pasted with Windows line endings (the binder admits CR only
	// before LF in these two fields) is stored with LF.
	req.CertificatePEM = strings.ReplaceAll(req.CertificatePEM, "\r\n", "\n")
	req.PrivateKeyPEM = strings.ReplaceAll(req.PrivateKeyPEM, "\r\n", "\n")
	der, leaf, more := parseCertificate(req.CertificatePEM, req.PrivateKeyPEM)
	if fe = append(fe, more...); len(fe) > 0 {
		return httpapi.Validation(fe...)
	}
	id := events.NewID("ccrt")
	sealed, err := a.Secrets.Seal(privateKeyAAD(id), der)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(leaf.Raw)
	created := &events.CertificateCreated{Name: name, CertificatePEM: req.CertificatePEM, PrivateKeySealed: sealed,
		CertificateDetails: events.CertificateDetails{Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(),
			SerialNumber: leaf.SerialNumber.Text(16), NotBefore: leaf.NotBefore.UTC(), NotAfter: leaf.NotAfter.UTC(),
			FingerprintSHA256: hex.EncodeToString(sum[:])}}
	now := a.Now()
	var cert projections.Certificate
	_, _, err = a.run(ctx, a.WaitFor, 0, p.Tenant, id, func(ctx context.Context) (events.Append, error) {
		claim, err := projections.GetNameClaim(ctx, a.Store, p.Tenant, events.NamespaceCredentialName, name)
		if err != nil {
			return events.Append{}, err
		}
		if claim.Owner != "" {
			return events.Append{}, nameTaken()
		}
		return namedCreate(p, now, events.Ref{Tenant: p.Tenant, Type: events.AggCertificate, ID: id}, created, claim)
	})
	if err != nil {
		return err
	}
	if cert, err = projections.GetCertificate(ctx, a.Store, p.Tenant, id); err != nil {
		return err
	}
	return authz.Versioned(c, http.StatusCreated, cert.Version, certJSON(cert))
}

func certVersion(c projections.Certificate) uint64 { return c.Version }

func (a *API) getCertificate(c echo.Context) error {
	return authz.Show(c, "credential", a.CatchUp, authz.Named(c, a.Store, projections.GetCertificate), certVersion, certJSON)
}

// deleteCertificate removes a certificate no credential presents (409
// otherwise: the credentials using it are named).
func (a *API) deleteCertificate(c echo.Context) error {
	tenant := oauth.PrincipalOf(c).Tenant
	err := authz.Remove(c, authz.Removal[projections.Certificate]{What: "credential", CatchUp: a.CatchUp,
		Deps: a.commands(0), Now: a.Now(), Get: authz.Named(c, a.Store, projections.GetCertificate), Version: certVersion,
		Decide: func(_ context.Context, cert projections.Certificate) ([]events.Change, []events.Expect, error) {
			if len(cert.Users) > 0 {
				return nil, nil, httpapi.Conflict(fmt.Sprintf("the certificate is presented by credential(s) %s: delete them first",
					strings.Join(cert.Users, ", ")))
			}
			ref := events.Ref{Tenant: tenant, Type: events.AggCertificate, ID: cert.ID}
			return nameReleased(ref, &events.CertificateDeleted{Name: cert.Name}, events.NamespaceCredentialName, cert.Name, cert.ID),
				[]events.Expect{{Ref: ref, Seq: cert.LastSeq}}, nil
		}})
	if err == nil {
		a.mtls.forget(c.Param("id"))
	}
	return err
}

// namedCreate is the append by p at now that creates the resource at ref
// (created: its event) and claims its unique name (claim: the name's
// state read, expected unchanged).
func namedCreate(p oauth.Principal, now time.Time, ref events.Ref, created events.Payload, claim projections.NameClaim) (events.Append, error) {
	claimed := events.ClaimName(ref.Tenant, claim.Namespace, claim.Value, ref.ID)
	return appendAs(p, now, []events.Change{claimed, {Ref: ref, Payload: created}},
		events.Expect{Ref: claimed.Ref, Seq: claim.LastSeq}, events.Expect{Ref: ref})
}

// nameReleased is the removal of the resource at ref (deleted: its
// event) with the release of its unique name.
func nameReleased(ref events.Ref, deleted events.Payload, ns, name, owner string) []events.Change {
	return []events.Change{{Ref: ref, Payload: deleted}, events.ReleaseName(ref.Tenant, ns, name, owner)}
}

// certificateUse checks a create's mtls_certificate_id and returns the
// certificate.used to append with it, expecting the certificate's last
// event (a concurrent delete then conflicts).
func (a *API) certificateUse(ctx context.Context, tenant, certID, credID string) (events.Change, events.Expect, error) {
	cert, err := projections.GetCertificate(ctx, a.Store, tenant, certID)
	if errors.Is(err, projections.ErrNotFound) {
		return events.Change{}, events.Expect{}, httpapi.Validation(httpapi.FieldError{Field: "mtls_certificate_id", Message: "is not a certificate credential of this tenant"})
	}
	if err != nil {
		return events.Change{}, events.Expect{}, err
	}
	ref := events.Ref{Tenant: tenant, Type: events.AggCertificate, ID: cert.ID}
	return events.Change{Ref: ref, Payload: &events.CertificateUsed{CredentialID: credID}}, events.Expect{Ref: ref, Seq: cert.LastSeq}, nil
}

// mtlsClients caches, per certificate, a client presenting it.
type mtlsClients struct {
	mu sync.Mutex
	m  map[string]*http.Client
}

func (m *mtlsClients) forget(id string) {
	m.mu.Lock()
	delete(m.m, id)
	m.mu.Unlock()
}

// clientFor is the client towards c's token endpoint: the SSRF-guarded
// client, presenting c's certificate credential when it has one (RFC
// 8705 §2: the TLS handshake authenticates the client; the request
// carries client_id).
func (v *Vault) clientFor(ctx context.Context, c projections.Credential) (*http.Client, error) {
	if c.MTLSCertificateID == "" {
		return v.Client, nil
	}
	v.mtls.mu.Lock()
	cl, ok := v.mtls.m[c.MTLSCertificateID]
	v.mtls.mu.Unlock()
	if ok {
		return cl, nil
	}
	cert, err := projections.GetCertificate(ctx, v.Store, c.Tenant, c.MTLSCertificateID)
	if err != nil {
		return nil, fmt.Errorf("vault: certificate %s of credential %s: %w", c.MTLSCertificateID, c.ID, err)
	}
	der, err := v.Secrets.Open(privateKeyAAD(cert.ID), cert.PrivateKeySealed)
	if err != nil {
		return nil, err
	}
	if cl, err = mtlsClient(v.Client, cert.CertificatePEM, der); err != nil {
		return nil, fmt.Errorf("vault: certificate %s: %w", cert.ID, err)
	}
	v.mtls.mu.Lock()
	if v.mtls.m == nil {
		v.mtls.m = map[string]*http.Client{}
	}
	v.mtls.m[cert.ID] = cl
	v.mtls.mu.Unlock()
	return cl, nil
}

// mtlsClient is base presenting the certificate chain certPEM with the
// PKCS#8 private key keyDER: the same guarded dialer, limits and
// timeouts (its transport cloned), the certificate added to its TLS
// configuration.
func mtlsClient(base *http.Client, certPEM string, keyDER []byte) (*http.Client, error) {
	key, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		return nil, err
	}
	var pair tls.Certificate
	for rest := []byte(certPEM); ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		pair.Certificate = append(pair.Certificate, b.Bytes)
	}
	pair.PrivateKey = key
	tr, ok := base.Transport.(*http.Transport)
	if !ok {
		return nil, errors.New("the outbound client's transport cannot present a certificate")
	}
	tr = tr.Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr.TLSClientConfig.Certificates = []tls.Certificate{pair}
	return &http.Client{Transport: tr, Timeout: base.Timeout, CheckRedirect: base.CheckRedirect}, nil
}

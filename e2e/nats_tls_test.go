package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// TestNATSOverMutualTLS: an instance reaches a NATS server that demands
// TLS with client certificates through GATEHOUSE_NATS_TLS_CA, _CERT and
// _KEY; without a client certificate it refuses to start, saying why.
func TestNATSOverMutualTLS(t *testing.T) {
	t.Parallel()
	dir := workDir(t, "tls")
	ca, caKey := newCA(t)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	serverCert := issue(t, ca, caKey, "nats", x509.ExtKeyUsageServerAuth)
	clientCert := issue(t, ca, caKey, "gatehouse", x509.ExtKeyUsageClientAuth)
	writePEM(t, filepath.Join(dir, "client.pem"), "CERTIFICATE", clientCert.Certificate[0])
	keyDER, err := x509.MarshalPKCS8PrivateKey(clientCert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "client-key.pem"), "PRIVATE KEY", keyDER)
	pool := x509.NewCertPool()
	pool.AddCert(ca)

	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	portN, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	natsDir := workDir(t, "nats")
	srv, err := natsserver.NewServer(&natsserver.Options{
		ServerName: "tls-test", Host: "127.0.0.1", Port: portN, JetStream: true, StoreDir: natsDir,
		SyncAlways: true, NoSigs: true, NoLog: true, MaxPayload: 8 << 20,
		JetStreamLimits: natsserver.JSLimitOpts{MaxBatchInflightPerStream: 1000, MaxBatchInflightTotal: 4000},
		TLS:             true, TLSVerify: true, TLSTimeout: 2,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12},
	})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS with TLS did not start")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })

	c := &cluster{t: t, natsDir: natsDir}
	url := "tls://127.0.0.1:" + port
	c.startNodes(1, url,
		withEnv("NATS_TLS_CA", filepath.Join(dir, "ca.pem")),
		withEnv("NATS_TLS_CERT", filepath.Join(dir, "client.pem")),
		withEnv("NATS_TLS_KEY", filepath.Join(dir, "client-key.pem")))
	a := adminAPI(t, c.nodes[0])
	app := a.createApp(map[string]any{"name": uniqueName(t, "tls")})
	if !a.active(a.mint(appCreds(app)).AccessToken) {
		t.Fatal("a token minted over NATS with TLS is not active")
	}

	// Without a client certificate the server refuses the connection and
	// the instance does not start.
	s, err := newServer(binary(t), workDir(t, "node"), withEnv("NATS_URL", url), withEnv("NATS_TLS_CA", filepath.Join(dir, "ca.pem")),
		withEnv("STREAM_PREFIX", "tlsnocert"))
	if err != nil {
		t.Fatal(err)
	}
	s.logDir = natsDir
	err = s.start()
	s.kill()
	if err == nil || !strings.Contains(err.Error(), "connect to NATS") {
		t.Fatalf("start without a client certificate: %v", err)
	}
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

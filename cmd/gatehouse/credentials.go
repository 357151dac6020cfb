package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/vault"
)

// credentialsStdin is where `credentials seal` reads the secret (tests
// replace it).
var credentialsStdin io.Reader = os.Stdin

// runCredentials is `gatehouse credentials seal`: it fetches the tenant's
// vault encryption key (GET /v1/credentials/encryption-key) and seals the
// client secret read on stdin to it, printing the
// encrypted_client_secret value. The secret never leaves this process
// in the clear.
func runCredentials(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if done, err := subcommand(args, "credentials", "seal", stdout); done {
		return err
	}
	fs := flag.NewFlagSet("credentials seal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	issuer := fs.String("issuer", os.Getenv(server.EnvPrefix+"ISSUER"), "the server's issuer URL (default: GATEHOUSE_ISSUER)")
	token := fs.String("token", os.Getenv(server.EnvPrefix+"TOKEN"), "an access token with credentials:write (default: GATEHOUSE_TOKEN)")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{Err: err}
	}
	if *issuer == "" || *token == "" {
		return usageError{Err: errors.New("credentials seal needs --issuer and --token (or GATEHOUSE_ISSUER and GATEHOUSE_TOKEN)")}
	}
	secret, err := io.ReadAll(io.LimitReader(credentialsStdin, 8192))
	if err != nil {
		return err
	}
	secret = bytes.TrimRight(secret, "\r\n")
	if len(secret) == 0 {
		return usageError{Err: errors.New("credentials seal reads the client secret on stdin; it was empty")}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(*issuer, "/")+"/v1/credentials/encryption-key", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+*token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /v1/credentials/encryption-key: %s: %s", res.Status, bytes.TrimSpace(body))
	}
	var key vault.EncryptionKey
	if err := json.Unmarshal(body, &key); err != nil {
		return fmt.Errorf("the encryption key: %w", err)
	}
	sealed, err := vault.SealSecret(key, secret)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, sealed)
	return err
}

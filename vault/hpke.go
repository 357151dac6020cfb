package vault

import (
	"context"
	"crypto/hpke"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// Client-side encryption (API.md: encrypted_client_secret): each tenant
// has an HPKE (RFC 9180) key pair, made on first use, its private key
// sealed in the log (vault_key.created). A client seals the client secret
// to the public key (a single-shot base-mode seal with the key's info and
// no additional data, Go's crypto/hpke.Seal) and sends base64url of
// enc ‖ ciphertext; the server opens it only in memory, then seals it for
// the log as any client secret.

// The default suite: the hybrid post-quantum KEM ML-KEM-768 + X25519
// (0x647a), HKDF-SHA256 (0x0001), AES-256-GCM (0x0002).
var (
	defaultKEM  = hpke.MLKEM768X25519
	defaultKDF  = uint16(0x0001)
	defaultAEAD = uint16(0x0002)
)

// EncryptionKey is the answer of GET /v1/credentials/encryption-key: the
// RFC 9180 ids, the public key in base64url and the info to seal with
// (the public part of the key as vault_key.created records it).
type EncryptionKey = events.VaultPublicKey

// SealSecret seals secret to key as encrypted_client_secret expects it
// (what `gatehouse credentials seal` does).
func SealSecret(key EncryptionKey, secret []byte) (string, error) {
	kem, err := hpke.NewKEM(key.KEM)
	if err != nil {
		return "", err
	}
	kdf, err := hpke.NewKDF(key.KDF)
	if err != nil {
		return "", err
	}
	aead, err := hpke.NewAEAD(key.AEAD)
	if err != nil {
		return "", err
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(key.PublicKey, "="))
	if err != nil {
		return "", err
	}
	pk, err := kem.NewPublicKey(raw)
	if err != nil {
		return "", err
	}
	ct, err := hpke.Seal(pk, kdf, aead, []byte(key.Info), secret)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(ct), nil
}

func vaultKeyRef(tenant string) events.Ref {
	return events.Ref{Tenant: tenant, Type: events.AggVaultKey, ID: events.VaultKeyID}
}

func vaultKeyAAD(tenant, kid string) string { return tenant + "/" + kid }

// ensureKey returns tenant's vault key, making it on first use (one
// instance wins: the append expects the aggregate empty).
func (a *API) ensureKey(ctx context.Context, p oauth.Principal) (projections.VaultKey, error) {
	k, err := projections.GetVaultKey(ctx, a.Store, p.Tenant)
	if err == nil || !errors.Is(err, projections.ErrNotFound) {
		return k, err
	}
	_, _, err = a.run(ctx, a.WaitFor, 0, p.Tenant, "", func(ctx context.Context) (events.Append, error) {
		if _, err := projections.GetVaultKey(ctx, a.Store, p.Tenant); err == nil {
			return events.Append{}, nil // made meanwhile
		}
		kem := defaultKEM()
		priv, err := kem.GenerateKey()
		if err != nil {
			return events.Append{}, err
		}
		raw, err := priv.Bytes()
		if err != nil {
			return events.Append{}, err
		}
		kid := events.NewID("vk")
		sealed, err := a.VaultKeys.Seal(vaultKeyAAD(p.Tenant, kid), raw)
		if err != nil {
			return events.Append{}, err
		}
		ev, err := events.New(vaultKeyRef(p.Tenant), oauth.ActorOf(p), a.Now(), &events.VaultKeyCreated{
			VaultPublicKey: EncryptionKey{KID: kid, KEM: kem.ID(), KDF: defaultKDF, AEAD: defaultAEAD,
				PublicKey: base64.RawURLEncoding.EncodeToString(priv.PublicKey().Bytes()), Info: "gatehouse vault " + p.Tenant},
			PrivateKeySealed: sealed,
		})
		return events.Append{Events: []events.Event{ev}, Expect: []events.Expect{{Ref: vaultKeyRef(p.Tenant)}}}, err
	})
	if err != nil {
		return projections.VaultKey{}, err
	}
	return projections.GetVaultKey(ctx, a.Store, p.Tenant)
}

func (a *API) encryptionKey(c echo.Context) error {
	k, err := a.ensureKey(c.Request().Context(), oauth.PrincipalOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, k.VaultPublicKey)
}

// openEncrypted opens an encrypted_client_secret with tenant's key, in
// memory only; the message is a field error's.
func (a *API) openEncrypted(ctx context.Context, tenant, value string) (string, string, error) {
	k, err := projections.GetVaultKey(ctx, a.Store, tenant)
	if errors.Is(err, projections.ErrNotFound) {
		return "", "the tenant has no encryption key yet: GET /v1/credentials/encryption-key first", nil
	}
	if err != nil {
		return "", "", err
	}
	ct, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(value, "="))
	if err != nil {
		return "", "must be base64url of enc ‖ ciphertext", nil
	}
	raw, err := a.VaultKeys.Open(vaultKeyAAD(tenant, k.KID), k.PrivateKeySealed)
	if err != nil {
		return "", "", err
	}
	kem, err := hpke.NewKEM(k.KEM)
	if err != nil {
		return "", "", err
	}
	priv, err := kem.NewPrivateKey(raw)
	if err != nil {
		return "", "", err
	}
	kdf, err := hpke.NewKDF(k.KDF)
	if err != nil {
		return "", "", err
	}
	aead, err := hpke.NewAEAD(k.AEAD)
	if err != nil {
		return "", "", err
	}
	plain, err := hpke.Open(priv, kdf, aead, []byte(k.Info), ct)
	if err != nil {
		return "", "cannot be opened with the tenant's encryption key (kid " + k.KID + ")", nil
	}
	if len(plain) == 0 || len(plain) > 4096 {
		return "", "must seal a secret of 1 to 4096 bytes", nil
	}
	return string(plain), "", nil
}

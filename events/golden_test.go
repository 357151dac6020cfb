package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the samples of golden_test.go")

const goldenDir = "testdata/golden"

var (
	g0       = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	jwks     = json.RawMessage(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`)
	meta     = json.RawMessage(`{"team":"billing","cost_center":42}`)
	str      = func(s string) *string { return &s }
	boolp    = func(b bool) *bool { return &b }
	disabled = events.WebhookStatusDisabled
	intp     = func(i int) *int { return &i }
	rawp     = func(r json.RawMessage) *json.RawMessage { return &r }
	strs     = func(s ...string) *[]string { return &s }
	timep    = func(t time.Time) *time.Time { return &t }
)

// samples holds one payload per registered event type, every field set so
// that the golden file pins every field's name and encoding. A new event
// type needs a sample here, then `go test ./events -run TestGolden -update`;
// a changed golden file in a diff is a changed persisted contract.
var samples = map[string]events.Payload{
	"system.bootstrapped": events.SystemBootstrapped{Tenant: "default", AdminAppID: "app_admin"},
	"tenant.created":      events.TenantCreated{Name: "Acme Corp", AdminAppID: "app_admin"},
	"app.created": events.AppCreated{
		AppSettings: events.AppSettings{
			ClientID:                 "client_billing",
			Name:                     "Billing sync",
			GrantTypes:               []string{"client_credentials", "authorization_code"},
			RedirectURIs:             []string{"https://billing.example.com/callback"},
			TokenEndpointAuthMethod:  "client_secret_basic",
			JWKS:                     jwks,
			Active:                   true,
			AccessTokenTTLSeconds:    3600,
			IDTokenSignedResponseAlg: "ES256",
		},
		Metadata:   meta,
		Scopes:     []events.ScopeGrant{{Scope: "invoices:read", Status: "approved"}, {Scope: "invoices:write", Status: "pending"}},
		SecretID:   "sec_1",
		SecretHash: "hmac-sha256:3q2+7w==",
	},
	"app.updated": events.AppUpdated{
		Name:                     str("Billing sync v2"),
		TokenEndpointAuthMethod:  str("private_key_jwt"),
		GrantTypes:               strs("client_credentials"),
		RedirectURIs:             strs("https://billing.example.com/cb2"),
		JWKS:                     rawp(jwks),
		Active:                   boolp(false),
		AccessTokenTTLSeconds:    intp(900),
		Metadata:                 rawp(meta),
		IDTokenSignedResponseAlg: str("RS256"),
	},
	"app.deleted": events.AppDeleted{ClientID: "client_billing"},
	"user.created": events.UserCreated{
		Email: "ada@example.com", Name: "Ada Lovelace", Roles: []string{"member"},
		PasswordHashSealed: "v1:bm9uY2UxMjM0NTZjaXBoZXJ0ZXh0dGFn",
	},
	"user.updated":          events.UserUpdated{Name: str("Ada King"), Roles: strs("admin", "member")},
	"user.password_changed": events.UserPasswordChanged{PasswordHashSealed: "v1:bm9uY2U2NTQzMjFjaXBoZXJ0ZXh0dGFn"},
	"user.disabled":         events.UserDisabled{},
	"user.enabled":          events.UserEnabled{},
	"user.deleted":          events.UserDeleted{Email: "ada@example.com"},
	"session.started":       events.SessionStarted{UserID: "usr_ada", AuthTime: g0, ExpiresAt: g0.Add(12 * time.Hour)},
	"session.ended":         events.SessionEnded{UserID: "usr_ada", Reason: events.SessionEndedLogout},
	"consent.granted":       events.ConsentGranted{AppID: "app_billing", ClientID: "client_billing", Scopes: []string{"openid", "invoices:read"}},
	"consent.withdrawn":     events.ConsentWithdrawn{AppID: "app_billing"},
	"authz_code.issued": events.AuthCodeIssued{
		CodeHash: "3q2-7w", AppID: "app_billing", ClientID: "client_billing", UserID: "usr_ada",
		RequestedScopes: []string{"openid", "invoices:read"}, GrantedScopes: []string{"openid", "invoices:read"},
		RedirectURI: "https://billing.example.com/callback", CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		ChallengeMethod: "S256", Nonce: "n-0S6_WzA2Mj", AuthTime: g0, RequestedAt: g0, ExpiresAt: g0.Add(time.Minute),
		SessionID: "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY",
	},
	"par.pushed": events.PARPushed{AppID: "app_billing", ClientID: "client_billing", Params: map[string][]string{
		"response_type": {"code"}, "redirect_uri": {"https://billing.example.com/callback"}, "scope": {"openid invoices:read"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}, "state": {"af0ifjsldkj"}},
		ExpiresAt: g0.Add(time.Minute)},
	"par.used":            events.PARUsed{UserID: "usr_ada"},
	"authz_code.redeemed": events.AuthCodeRedeemed{JTI: "jti-1", AccessExpiresAt: g0.Add(time.Hour), RefreshHash: "rt-1", RefreshExpiresAt: timep(g0.Add(720 * time.Hour))},
	"refresh_token.rotated": events.RefreshRotated{OldHash: "rt-1", NewHash: "rt-2", JTI: "jti-2", AccessExpiresAt: g0.Add(2 * time.Hour),
		RefreshExpiresAt: timep(g0.Add(720 * time.Hour))},
	"authz_grant.revoked": events.GrantRevoked{Reason: events.GrantRevokedRefreshReuse},
	"credential.created": events.CredentialCreated{
		Name: "google_drive", Provider: "custom", GrantType: "client_credentials", ClientID: "cid_upstream",
		Scopes: []string{"drive.readonly", "email"}, AuthURL: "https://idp.example.com/authorize", TokenURL: "https://idp.example.com/token",
		RevocationURL: "https://idp.example.com/revoke", ScopeSeparator: " ", PKCE: true, RotatesRefreshTokens: true, Username: "svc@example.com",
		ClientSecretSealed: "v1:c2VhbGVkLWNsaWVudC1zZWNyZXQ", PasswordSealed: "v1:c2VhbGVkLXBhc3N3b3Jk", BaseURL: "https://api.example.com",
		CollectionID: "col_1", RefreshBeforeSeconds: 300, Exchangeable: true, Grants: []string{"app_billing"},
		HeaderTemplate: "X-Api-Key: {token}", OwnerUserID: "usr_ada",
	},
	"credential.updated": events.CredentialUpdated{
		Name: str("drive2"), Scopes: strs("email"), ClientSecretSealed: str("v1:bmV3LXNlY3JldA"), BaseURL: str("https://api2.example.com"),
		CollectionID: str("col_2"), RefreshBeforeSeconds: intp(120), Exchangeable: boolp(false), Grants: strs("app_a", "app_b"),
		HeaderTemplate: str("Authorization: token {token}"), ClientID: str("client-2"), AuthURL: str("https://auth2.example.com/authorize"),
		TokenURL: str("https://auth2.example.com/token"), Reauthorize: true, SupersededThrough: 3,
	},
	"graphql_operation.registered": events.GraphQLOperationRegistered{Name: "list apps", Document: "query ListApps { apps { nodes { id } } }",
		SHA256: "5f1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff0", OperationType: "query", Apps: []string{"app_billing"}},
	"graphql_operation.deleted":  events.GraphQLOperationDeleted{Name: "list apps"},
	"credential.deleted":         events.CredentialDeleted{Name: "google_drive"},
	"credential.refresh_claimed": events.CredentialRefreshClaimed{Instance: "inst_1", Until: g0.Add(30 * time.Second), Forced: true},
	"credential.tokens_stored": events.CredentialTokensStored{
		Version: 2, Reason: "refreshed", TokenType: "Bearer", Scopes: []string{"email"}, ExpiresAt: timep(g0.Add(time.Hour)),
		RefreshAt: timep(g0.Add(55 * time.Minute)), HasRefreshToken: true, RefreshTokenRotated: true, TokensSealed: "v1:dG9rZW5zLXNlYWxlZA",
	},
	"credential.refresh_failed": events.CredentialRefreshFailed{
		Attempt: 3, Error: "temporarily_unavailable", ErrorDescription: "try later", NextAttemptAt: timep(g0.Add(time.Minute)), Failed: true,
	},
	"credential.revoked":     events.CredentialRevoked{Error: "invalid_grant", ErrorDescription: "refresh token revoked"},
	"credential.expiring":    events.CredentialExpiring{ExpiresAt: g0.Add(4 * time.Minute), Version: 2},
	"credential.rolled_back": events.CredentialRolledBack{Version: 1},
	"credential.used": events.CredentialUsed{CredentialID: "cred_1", AppID: "app_billing", Minute: g0, Instance: "inst_1",
		Requests: 120, Upstream5xx: 2, Failed: 1, Refreshes: 1, Exchanges: 3, BytesIn: 4096, BytesOut: 1 << 20},
	"activity.requested": events.ActivityRequested{Type: "credential.create", ApprovalsRequired: 2, CredentialID: "cred_1",
		Intent: json.RawMessage(`{"name":"google_drive","provider":"google"}`), Create: &events.CredentialCreated{Name: "google_drive", Provider: "google",
			GrantType: "authorization_code", ClientID: "cid", Scopes: []string{"openid"}, TokenURL: "https://oauth2.googleapis.com/token",
			ScopeSeparator: " ", ClientSecretSealed: "v1:c2VhbGVk", RefreshBeforeSeconds: 300, Grants: []string{}},
		Identities: []string{"app_admin"}, ExpiresAt: g0.Add(7 * 24 * time.Hour)},
	"activity.voted":     events.ActivityVoted{Decision: "approve", Reason: "checked with the team", Identities: []string{"app_second"}},
	"activity.completed": events.ActivityFinished{Result: json.RawMessage(`{"credential_id":"cred_1"}`), Error: &events.ActivityError{Status: 409, Code: "conflict", Detail: "taken"}},
	"vault_key.created": events.VaultKeyCreated{VaultPublicKey: events.VaultPublicKey{KID: "vk_1", KEM: 0x647a, KDF: 1, AEAD: 2, PublicKey: "cHVibGlj",
		Info: "gatehouse vault acme"}, PrivateKeySealed: "v1:cHJpdmF0ZQ"},
	"client_assertion.used": events.ClientAssertionUsed{
		AppID: "app_billing", ClientID: "client_billing", JTI: "4f0b8c1e-assertion-1", ExpiresAt: g0.Add(5 * time.Minute),
	},
	"token.minted": events.TokenMinted{
		JTI: "jti_1", AppID: "app_billing", ClientID: "client_billing", Subject: "user_7",
		GrantType: "authorization_code", Scopes: []string{"invoices:read", "openid"}, ExpiresAt: g0.Add(time.Hour),
	},
	"token.revoked": events.TokenRevoked{JTI: "jti_1", AppID: "app_billing", ExpiresAt: g0.Add(time.Hour), GraceSeconds: 30},
	"key.created": events.KeyCreated{
		KID: "k1", Alg: "ES256", PublicJWK: json.RawMessage(`{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256","use":"sig","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`),
		PrivateKeyEnc: "bm9uY2UxMjM0NTZjaXBoZXJ0ZXh0dGFn", CreatedAt: g0, PublishAt: g0, ActivateAt: g0.Add(24 * time.Hour),
	},
	"key.activated":       events.KeyActivated{KID: "k1"},
	"key.retired":         events.KeyRetired{KID: "k1", RetiredAt: g0.Add(48 * time.Hour), RemoveAfter: g0.Add(72 * time.Hour)},
	"key.removed":         events.KeyRemoved{KID: "k1"},
	"name.claimed":        events.NameClaimed{Namespace: "app", Value: "Billing sync", Owner: "app_billing"},
	"name.released":       events.NameReleased{Namespace: "app", Value: "Billing sync", Owner: "app_billing"},
	"idempotency.started": events.IdempotencyStarted{Method: "POST", Path: "/v1/platform/apps", Fingerprint: "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=", RetainSeconds: 86400},
	"idempotency.completed": events.IdempotencyCompleted{
		Status: 201, ContentType: "application/json", ETag: `"1"`, Location: "/v1/platform/apps/app_billing", BodySealed: "bm9uY2UxMjM0NTZjaXBoZXJ0ZXh0dGFn",
	},
	"idempotency.released": events.IdempotencyReleased{Status: 503},
	"clock.ticked":         events.ClockTicked{},
	"quota.counted": events.QuotaCounted{Kind: "credentials", Owner: "ten_1", Count: 3, Exact: true,
		Reserve: &events.QuotaReservation{ID: "act_2", Until: g0.Add(7 * 24 * time.Hour)}, Release: "act_1"},
	"scope.defined":            events.ScopeDefined{Name: "invoices:read", Description: "Read invoices", RequiresApproval: true, ApprovalsRequired: 2},
	"scope.updated":            events.ScopeUpdated{Name: "invoices:read", Description: str("Read all invoices"), RequiresApproval: boolp(false), ApprovalsRequired: intp(1)},
	"scope.deleted":            events.ScopeDeleted{Name: "invoices:read"},
	"eventtype.defined":        events.EventTypeDefined{Name: "invoice.paid", Description: "An invoice was paid", Scope: "invoices:read"},
	"eventtype.deleted":        events.EventTypeDeleted{Name: "invoice.paid"},
	"app.scope.requested":      events.AppScopeRequested{Scopes: []events.ScopeGrant{{Scope: "invoices:read", Status: "pending"}, {Scope: "profile", Status: "approved"}}},
	"app.scope.approval_added": events.AppScopeApprovalAdded{Scope: "invoices:read", GrantType: "authorization_code", RedirectURI: "https://billing.example.com/callback", Reason: "reviewed the integration", Approvals: 1, ApprovalsRequired: 2},
	"app.scope.approved":       events.AppScopeApproved{Scope: "invoices:read", GrantType: "authorization_code", RedirectURI: "https://billing.example.com/callback", Reason: "second reviewer", Approvals: 2, ApprovalsRequired: 2},
	"app.scope.rejected":       events.AppScopeRejected{Scope: "invoices:write", GrantType: "authorization_code", RedirectURI: "https://billing.example.com/callback", Reason: "not needed for a sync"},
	"app.scope.revoked":        events.AppScopeRevoked{Scope: "invoices:read", GrantType: "authorization_code", RedirectURI: "https://billing.example.com/callback", Reason: "contract ended"},
	"app.secret.rotated":       events.AppSecretRotated{SecretID: "sec_2", SecretHash: "hmac-sha256:3q2+7w==", PreviousExpiresAt: g0.Add(24 * time.Hour)},
	"app.secret.revoked":       events.AppSecretRevoked{SecretID: "sec_1"},
	"approval_policy.set":      events.ApprovalPolicySet{Subject: "redirect_uri", ApprovalsRequired: 2},
	"webhook.created": events.WebhookCreated{WebhookSettings: events.WebhookSettings{AppID: "app_billing", URL: "https://hooks.example.com/gh",
		Events: []string{"invoice.paid", "app.updated"}, Description: "Billing events", Status: "active"}, SecretID: "whs_1", SecretSealed: "bm9uY2UxMjM0NTZjaXBoZXJ0ZXh0dGFn"},
	"webhook.updated":        events.WebhookUpdated{URL: str("https://hooks.example.com/gh2"), Events: strs("invoice.paid"), Description: str("Paid invoices"), Status: &disabled},
	"webhook.deleted":        events.WebhookDeleted{AppID: "app_billing"},
	"webhook.secret.rotated": events.WebhookSecretRotated{SecretID: "whs_2", SecretSealed: "bm9uY2UxMjM0NTZjaXBoZXJ0ZXh0dGFn", PreviousExpiresAt: g0.Add(24 * time.Hour)},
	"webhook.disabled":       events.WebhookDisabled{AppID: "app_billing", URL: "https://hooks.example.com/gh", Reason: "gone", Detail: "the endpoint answered 410 Gone"},
	"event.published":        events.EventPublished{Type: "invoice.paid", Data: json.RawMessage(`{"invoice":"inv_1","amount":4200}`), AppID: "app_billing", DedupeID: "inv_1-paid", WebhookID: "wh_1", ControlSeq: 42},
	"delivery.created": events.DeliveryCreated{WebhookID: "wh_1", AppID: "app_billing", EventID: "evt_1", Type: "invoice.paid", Scope: "invoices:read",
		Body: json.RawMessage(`{"type":"invoice.paid","timestamp":"2025-06-01T12:00:00Z","data":{"invoice":"inv_1"}}`), LeaseUntil: g0.Add(30 * time.Second), Instance: "inst_1",
		Keep: 1000, RetainSeconds: 604800},
	"delivery.claimed": events.DeliveryClaimed{Attempt: 2, LeaseUntil: g0.Add(time.Minute), Instance: "inst_2", Manual: true},
	"delivery.attempted": events.DeliveryAttempted{Attempt: 1, DeliveryResult: events.DeliveryResult{At: g0, StatusCode: 503, DurationMS: 12,
		ErrorClass: "http_status", Error: "the endpoint answered 503", ResponseBody: "upstream busy"}, Outcome: "retrying", NextAttemptAt: func() *time.Time { t := g0.Add(5 * time.Second); return &t }()},
}

// TestGolden pins the stored JSON of every registered event type: the
// envelope as the log stores it, with the sample payload as its data, must
// equal testdata/golden/<type>.json byte for byte (indented), and the golden
// file must decode back to the sample.
func TestGolden(t *testing.T) {
	for _, typ := range events.Types() {
		t.Run(typ, func(t *testing.T) {
			p, ok := samples[typ]
			if !ok {
				t.Fatalf("event type %s has no sample: add one to samples in golden_test.go, then run go test ./events -run TestGolden -update", typ)
			}
			if got, _, _ := events.TypeOf(p); got != typ {
				t.Fatalf("sample for %s is a %T (%q)", typ, p, got)
			}
			wantEveryFieldSet(t, p)
			checkGolden(t, typ, p)
		})
	}
	for typ := range samples {
		if !slicesContains(events.Types(), typ) {
			t.Errorf("sample for %s, which is not a registered event type", typ)
		}
	}
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if typ := strings.TrimSuffix(filepath.Base(f), ".json"); !slicesContains(events.Types(), typ) {
			t.Errorf("golden file %s for %s, which is not a registered event type (types are never removed: register it again)", f, typ)
		}
	}
}

func checkGolden(t *testing.T, typ string, p events.Payload) {
	t.Helper()
	kind, _, _ := strings.Cut(typ, ".")
	e := events.MustNew(events.Ref{Tenant: "acme", Type: kind, ID: kind + "_golden"}, events.Actor{Kind: events.ActorApp, ID: "app_admin"}, g0, p)
	e.ID = "evt_golden"
	stored, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := json.Indent(&got, stored, "", "  "); err != nil {
		t.Fatal(err)
	}
	got.WriteByte('\n')
	path := filepath.Join(goldenDir, typ+".json")
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: run go test ./events -run TestGolden -update to create it", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("%s stored as\n%s\nbut %s holds\n%s\nAn event's JSON is a persisted contract: add a new schema version with an upcaster instead of changing it (or, for a type not yet released, run with -update).", typ, got.Bytes(), path, want)
	}
	roundTrip(t, want, p)
}

// roundTrip decodes the golden file as the log reads it (compact, as it is
// stored) and checks that the payload is the sample again and encodes to the
// same data.
func roundTrip(t *testing.T, golden []byte, p events.Payload) {
	t.Helper()
	var stored bytes.Buffer
	if err := json.Compact(&stored, golden); err != nil {
		t.Fatalf("golden file: %v", err)
	}
	var e events.Event
	if err := json.Unmarshal(stored.Bytes(), &e); err != nil {
		t.Fatalf("golden envelope: %v", err)
	}
	if typ, schema, _ := events.TypeOf(p); e.Type != typ || e.Schema != schema {
		t.Fatalf("golden envelope is %s v%d, want %s v%d", e.Type, e.Schema, typ, schema)
	}
	decoded, err := events.Decode(e)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got := reflect.ValueOf(decoded).Elem().Interface(); !reflect.DeepEqual(got, p) {
		t.Fatalf("Decode = %#v, want the sample %#v", got, p)
	}
	again, err := json.Marshal(decoded)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, e.Data) {
		t.Fatalf("decoded payload encodes as %s, golden data is %s", again, e.Data)
	}
}

// wantEveryFieldSet fails when an exported field of the sample is zero:
// an omitted field would not be pinned by the golden file.
func wantEveryFieldSet(t *testing.T, p events.Payload) {
	t.Helper()
	v := reflect.ValueOf(p)
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.IsExported() && v.Field(i).IsZero() {
			t.Errorf("sample %T leaves %s zero: set every field so that the golden file pins it", p, f.Name)
		}
	}
}

func TestDecodeUnknownType(t *testing.T) {
	e := events.MustNew(events.Ref{Tenant: "acme", Type: "app", ID: "app_1"}, events.System, g0, events.AppDeleted{ClientID: "c"})
	e.Type = "app.teleported"
	if _, err := events.Decode(e); !errors.Is(err, events.ErrUnknownType) {
		t.Fatalf("Decode(unknown type) = %v, want %v", err, events.ErrUnknownType)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestUpcastEventPublishedV1: a version 1 event.published (its golden
// file, as session 2's builds stored it) decodes as version 2 with
// ControlSeq 0 and every other field as it was.
func TestUpcastEventPublishedV1(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(goldenDir, "v1", "event.published.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e events.Event
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	if e.Schema != 1 {
		t.Fatalf("the v1 golden file has schema %d", e.Schema)
	}
	p, err := events.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	want := samples["event.published"].(events.EventPublished)
	want.ControlSeq = 0
	got := *p.(*events.EventPublished)
	var data bytes.Buffer
	if err := json.Compact(&data, got.Data); err != nil {
		t.Fatal(err)
	}
	got.Data = data.Bytes()
	if got.Type != want.Type || got.AppID != want.AppID || got.DedupeID != want.DedupeID || got.WebhookID != want.WebhookID ||
		string(got.Data) != string(want.Data) || got.ControlSeq != 0 {
		t.Fatalf("v1 decoded as %+v, want %+v", got, want)
	}
}

// decodeV1 decodes testdata/golden/v1/<typ>.json, a version 1 event.
func decodeV1(t *testing.T, typ string) events.Payload {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, "v1", typ+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var e events.Event
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	if e.Schema != 1 {
		t.Fatalf("the v1 golden file has schema %d", e.Schema)
	}
	p, err := events.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUpcastRetentionV1: version 1 idempotency.started and
// delivery.created (no retention fields) decode as version 2 with the
// default retention and every other field as it was.
func TestUpcastRetentionV1(t *testing.T) {
	idem := *decodeV1(t, "idempotency.started").(*events.IdempotencyStarted)
	wantIdem := samples["idempotency.started"].(events.IdempotencyStarted)
	wantIdem.RetainSeconds = 0
	if idem != wantIdem || idem.Retention() != events.DefaultIdempotencyRetention {
		t.Fatalf("v1 idempotency.started decoded as %+v (retention %s), want %+v", idem, idem.Retention(), wantIdem)
	}
	del := *decodeV1(t, "delivery.created").(*events.DeliveryCreated)
	wantDel := samples["delivery.created"].(events.DeliveryCreated)
	if del.Keep != 0 || del.RetainSeconds != 0 || del.KeepCount() != events.DefaultDeliveryKeep || del.Retention() != events.DefaultDeliveryRetention {
		t.Fatalf("v1 delivery.created decoded with retention %d/%d (%d, %s)", del.Keep, del.RetainSeconds, del.KeepCount(), del.Retention())
	}
	var body bytes.Buffer
	if err := json.Compact(&body, del.Body); err != nil {
		t.Fatal(err)
	}
	if del.WebhookID != wantDel.WebhookID || del.EventID != wantDel.EventID || del.Type != wantDel.Type ||
		!del.LeaseUntil.Equal(wantDel.LeaseUntil) || body.String() != string(wantDel.Body) {
		t.Fatalf("v1 delivery.created decoded as %+v, want %+v", del, wantDel)
	}
}

// TestUpcastTokenRevokedV1: a version 1 token.revoked (no grace_seconds)
// decodes as version 2 kept DefaultRevocationGrace past its token's
// expiry, every other field as it was.
func TestUpcastTokenRevokedV1(t *testing.T) {
	got := *decodeV1(t, "token.revoked").(*events.TokenRevoked)
	want := samples["token.revoked"].(events.TokenRevoked)
	want.GraceSeconds = 0
	if !reflect.DeepEqual(got, want) || got.Grace() != events.DefaultRevocationGrace {
		t.Fatalf("v1 token.revoked decoded as %+v (grace %s), want %+v (grace %s)", got, got.Grace(), want, events.DefaultRevocationGrace)
	}
	if g := samples["token.revoked"].(events.TokenRevoked).Grace(); g != 30*time.Second {
		t.Fatalf("grace_seconds 30 gives a grace of %s", g)
	}
}

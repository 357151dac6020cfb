package vault

import (
	"maps"
	"slices"
)

// Preset is what the vault knows of a provider: its endpoints, the
// scopes it recommends, how it joins scopes, whether it supports PKCE
// (RFC 7636), whether it rotates refresh tokens, and how it wants the
// client to authenticate at its token endpoint.
type Preset struct {
	AuthURL, TokenURL, RevocationURL string
	DefaultScopes                    []string
	ScopeSeparator                   string
	PKCE                             bool
	// RotatesRefreshTokens: a refresh may answer a new refresh token,
	// which replaces the old one (the old one stops working).
	RotatesRefreshTokens bool
	// AuthInBody: the client id and secret go in the form body
	// (client_secret_post) instead of HTTP Basic (client_secret_basic).
	AuthInBody bool
}

// Providers are the presets by provider name; custom takes its URLs from
// the request.
var Providers = map[string]Preset{
	"google": {
		// access_type=offline: Google issues a refresh token only then;
		// prompt=consent: again on a reauthorization (the authorize URL
		// keeps these and adds its own parameters).
		AuthURL: "https://accounts.google.com/o/oauth2/v2/auth?access_type=offline&prompt=consent", TokenURL: "https://oauth2.googleapis.com/token",
		RevocationURL: "https://oauth2.googleapis.com/revoke", DefaultScopes: []string{"openid", "email", "profile"},
		ScopeSeparator: " ", PKCE: true,
	},
	"github": {
		AuthURL: "https://github.com/login/oauth/authorize", TokenURL: "https://github.com/login/oauth/access_token",
		DefaultScopes: []string{"read:user", "user:email"}, ScopeSeparator: " ", PKCE: true, RotatesRefreshTokens: true, AuthInBody: true,
	},
	"microsoft": {
		AuthURL: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize", TokenURL: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
		DefaultScopes: []string{"openid", "email", "profile", "offline_access", "User.Read"}, ScopeSeparator: " ", PKCE: true,
		RotatesRefreshTokens: true, AuthInBody: true,
	},
	"salesforce": {
		AuthURL: "https://login.salesforce.com/services/oauth2/authorize", TokenURL: "https://login.salesforce.com/services/oauth2/token",
		RevocationURL: "https://login.salesforce.com/services/oauth2/revoke", DefaultScopes: []string{"api", "refresh_token"},
		ScopeSeparator: " ", PKCE: true, AuthInBody: true,
	},
	"slack": {
		AuthURL: "https://slack.com/oauth/v2/authorize", TokenURL: "https://slack.com/api/oauth.v2.access",
		RevocationURL: "https://slack.com/api/auth.revoke", DefaultScopes: []string{"chat:write", "channels:read"},
		ScopeSeparator: ",", RotatesRefreshTokens: true, AuthInBody: true,
	},
	"discord": {
		AuthURL: "https://discord.com/oauth2/authorize", TokenURL: "https://discord.com/api/oauth2/token",
		RevocationURL: "https://discord.com/api/oauth2/token/revoke", DefaultScopes: []string{"identify", "email"},
		ScopeSeparator: " ", PKCE: true, RotatesRefreshTokens: true,
	},
	"x": {
		AuthURL: "https://x.com/i/oauth2/authorize", TokenURL: "https://api.x.com/2/oauth2/token",
		RevocationURL: "https://api.x.com/2/oauth2/revoke", DefaultScopes: []string{"tweet.read", "users.read", "offline.access"},
		ScopeSeparator: " ", PKCE: true, RotatesRefreshTokens: true,
	},
	"custom": {ScopeSeparator: " ", PKCE: true, RotatesRefreshTokens: true},
}

// ProviderNames are the accepted provider names, sorted.
func ProviderNames() []string { return slices.Sorted(maps.Keys(Providers)) }

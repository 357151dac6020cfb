// Package oauth is Gatehouse's OAuth 2.0 side: the endpoints under
// /v1/oauth/* and /.well-known/*, served with fosite, and the checking of
// the access tokens they issue.
//
//   - Server (New, Config) holds fosite's configuration and its storage
//     adapter: the client store reads apps from the projections (Client),
//     client authentication accepts client_secret_basic, client_secret_post
//     and private_key_jwt (assertions' jti recorded in the log), and the
//     rate limits of the endpoints spend from an httpapi.Limiter.
//   - One file per endpoint: token, introspection, revocation, discovery,
//     the JWKS. Every RFC 6749 §5.2 error of them is written by one writer,
//     which sets Retry-After on 503 and 429.
//   - One mint path (Server.mint): the token endpoint and the platform
//     API's service tokens build the claims, sign and append token.minted
//     through the mints group committer there. One revocation path
//     (Server.revoke): RFC 7009 revocation and the platform API's
//     revocation of a service token append token.revoked there, with one
//     dedupe-id rule.
//   - TokenChecker decides whether an access token is active (signature and
//     claims through the verifier and its cache, then revocations, the app's
//     state and its scope decisions); Authenticator is the bearer
//     authentication of the platform API built on it (Require, PrincipalOf),
//     importable by every HTTP package above this one.
//
// Errors of these endpoints are RFC 6749 JSON, not problem documents,
// except 413 (the body limit of package httpapi).
package oauth

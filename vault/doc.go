// Package vault is the upstream credential vault (API.md "Upstream
// credentials (the vault)"): OAuth 2.0 credentials a tenant holds at
// third-party providers (Google, GitHub, Microsoft, Salesforce, Slack,
// Discord, X or any OAuth 2.0 provider), stored sealed, fetched and
// refreshed before they expire, versioned and watched.
//
// Every change is an event on the one command path (command.Run): of the
// aggregate events.AggCredential (control stream) for what a user
// changes and the alerts, of events.AggCredentialRefresh (high-volume
// stream, each event the whole refresh state, refresh_state.go) for
// claims, token sets, failures' state and rollbacks; reads go to the
// credentials projection, which merges the two (projections/credentials.go,
// credentials_refresh.go). The client secret, the resource owner's
// password and every token set are sealed (package sealing, purposes
// credential-secret and credential-tokens) before they enter the log and
// never leave the server: no answer, event, log line or feed shows them.
//
// The Refresher is the worker that refreshes credentials before they
// expire: it sleeps until the earliest entry of the refresh schedule (a
// projection of the log), claims each due credential in the log
// (credential_refresh.claimed, expecting the refresh aggregate's last
// event, so one instance refreshes it), asks the provider, and appends the new
// token set before it does anything else.
package vault

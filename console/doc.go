// Package console is the tenant admins' console at /console: server-
// rendered pages (html/template, embedded assets, no build step) over the
// platform API. A person signs in through the identity provider's
// session (idp.Person); every page reads, and every form acts, through a
// request the console sends in-process to the server's own router with
// the person as its caller (oauth.InProcess): the same scope checks,
// authority rules, Idempotency-Key and If-Match semantics and problem
// answers as the REST API, so the console can do nothing the API would
// refuse. A person's console scopes are the tenant-admin scopes their
// roles allow (catalog.UserMayHold): an admin acts, a member reads the
// catalog and is refused the rest with the API's own 403.
package console

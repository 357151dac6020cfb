// Package server builds the Gatehouse server from its Config: the master
// key, the event log, the projections' store, the components (workers,
// routes, readiness checks) and the HTTP router. cmd/gatehouse parses the
// command line into a Config, listens and drains; server/servertest runs
// the same server in-process for the package tests of the HTTP layer.
package server

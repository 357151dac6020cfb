// Package server builds the Gatehouse server from its Config: the master
// key, the event log, the projections' store, the components (workers,
// routes, readiness checks) and the HTTP router (Build, then Start,
// Handler, Close).
//
// The configuration lives here too (LoadConfig: every GATEHOUSE_*
// variable, its flag, its default and its validation), because it is the
// server's contract, not the command line's: cmd/gatehouse hands it its
// arguments and os.LookupEnv, then listens and drains; server/servertest
// hands it a map, so a test server has the binary's defaults and checks.
package server

// Package memory is the in-memory projections.Store: the embedded default,
// rebuilt from the log at every start, and the reference the conformance
// suite (package projectionstest) is written against.
//
// One Update runs at a time; readers run concurrently with it and with
// each other. An Update's writes go to an overlay that only its commit
// installs, under a short write lock, so readers never see half a
// transaction and a failed fn leaves nothing behind. Each (kind, tenant)
// keeps its documents in a B-tree ordered by (Sort, ID), so a write costs
// O(log n) and a page of List O(log n + limit).
package memory

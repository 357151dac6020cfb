// Package cputime reads the CPU time (user and system) this process has
// used: the measure the benchmarks report beside wall time, because the
// machines they run on are shared and CPU time says more.
package cputime

import "time"

// Process is the CPU time this process has used so far.
func Process() (time.Duration, error) { return process() }

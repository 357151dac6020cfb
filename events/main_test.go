package events_test

import (
	"os"
	"testing"
)

// TestMain lets the test binary double as the appender process of
// TestKill9Durability: started with appenderDirEnv set, it appends until it
// is killed instead of running tests.
func TestMain(m *testing.M) {
	if dir := os.Getenv(appenderDirEnv); dir != "" {
		os.Exit(runAppender(dir, os.Getenv(appenderPrefixEnv)))
	}
	os.Exit(m.Run())
}

package webhooks

import "testing"

// SetDueScan makes the schedule read pages of page entries and look at
// scan due entries a round until the test ends (set before the
// dispatchers start).
func SetDueScan(t testing.TB, page, scan int) {
	oldPage, oldScan := duePage, dueScan
	duePage, dueScan = page, scan
	t.Cleanup(func() { duePage, dueScan = oldPage, oldScan })
}

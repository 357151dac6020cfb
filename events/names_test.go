package events_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/events"
)

// TestClaimAndReleaseName checks that the changes of a unique name's claim
// and release are on the claim's aggregate (NameRef, compared without
// case) and carry the namespace, value and owner they were given.
func TestClaimAndReleaseName(t *testing.T) {
	c := events.ClaimName("t1", "app", "Billing", "app_1")
	if c.Ref != events.NameRef("t1", "app", "Billing") {
		t.Errorf("claim ref %v, want NameRef", c.Ref)
	}
	if p, ok := c.Payload.(*events.NameClaimed); !ok || *p != (events.NameClaimed{Namespace: "app", Value: "Billing", Owner: "app_1"}) {
		t.Errorf("claim payload %#v", c.Payload)
	}
	r := events.ReleaseName("t1", "app", "billing", "app_1")
	if r.Ref != c.Ref {
		t.Errorf("release of the same name in another case: ref %v, claim's %v", r.Ref, c.Ref)
	}
	if p, ok := r.Payload.(*events.NameReleased); !ok || *p != (events.NameReleased{Namespace: "app", Value: "billing", Owner: "app_1"}) {
		t.Errorf("release payload %#v", r.Payload)
	}
	if other := events.ClaimName("t2", "app", "Billing", "app_1"); other.Ref == c.Ref {
		t.Error("claims of two tenants share an aggregate")
	}
	if other := events.ClaimName("t1", "user-email", "Billing", "app_1"); other.Ref == c.Ref {
		t.Error("claims of two namespaces share an aggregate")
	}
}

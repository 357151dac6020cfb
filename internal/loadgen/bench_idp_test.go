package loadgen

import (
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestBenchLoginAndHash: the login scenario gets the login form from a
// real server (servertest) every time; the password-hash scenario
// computes one argon2id hash a step and counts each.
func TestBenchLoginAndHash(t *testing.T) {
	s := servertest.New(t)
	res := runBenchJSON(t, "--url", s.URL, "--scenario", "login", "--requests", "50", "--warmup", "0", "--concurrency", "4")
	if res.Requests != 50 || res.OK != 50 || res.Errors != 0 {
		t.Errorf("login: %d requests, %d ok, errors %v; want 50 ok", res.Requests, res.OK, res.ErrorsByKind)
	}
	res = runBenchJSON(t, "--url", s.URL, "--scenario", "password-hash", "--requests", "3", "--warmup", "0", "--concurrency", "2")
	if res.Requests != 3 || res.OK != 3 || res.Errors != 0 {
		t.Errorf("password-hash: %d requests, %d ok, errors %v; want 3 ok", res.Requests, res.OK, res.ErrorsByKind)
	}
}

// TestLoginPageCheck: an answer without the form (an error page) is not
// a login page.
func TestLoginPageCheck(t *testing.T) {
	if !loginPageCheck([]byte(`<input name="csrf_token" value="x"><input id="password">`)) {
		t.Error("the login form is refused")
	}
	if loginPageCheck([]byte(`<h1>The application or organisation is not known.</h1>`)) {
		t.Error("an error page counts as a login page")
	}
}

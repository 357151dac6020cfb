package idp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/keyedmac"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// Cookie names. The session cookie holds a 256-bit random secret; the
// log and the projections know only its HMAC (the session id). On an
// https issuer each is named with the __Host- prefix (CookieName): the
// browser keeps such a cookie only when it is Secure, Path=/ and has no
// Domain, so a sibling subdomain or a plain-http answer cannot plant one.
const (
	sessionCookie = "gh_session"
	csrfCookie    = "gh_csrf"
)

// HostPrefix is the cookie name prefix of an https issuer's cookies.
const HostPrefix = "__Host-"

// CookieName is the name of Gatehouse's cookie base: base itself on an
// http issuer (development, tests on loopback), HostPrefix+base on an
// https one.
func CookieName(issuer, base string) string {
	if strings.HasPrefix(issuer, "https://") {
		return HostPrefix + base
	}
	return base
}

// sessions are browser sessions: session.started / session.ended on the
// aggregate AggSession, by the HMAC of the cookie's secret.
type sessions struct {
	idp     *IdP
	key     *keyedmac.MAC
	csrfKey *keyedmac.MAC
}

func newSessions(p *IdP, key, csrfKey []byte) *sessions {
	return &sessions{idp: p, key: keyedmac.New(sha256.New, key), csrfKey: keyedmac.New(sha256.New, csrfKey)}
}

// mac is the HMAC-SHA256 of v under key, base64url without padding.
func mac(key *keyedmac.MAC, v string) string {
	var sum [sha256.Size]byte
	var enc [43]byte // base64url of 32 bytes, no padding
	return string(base64.RawURLEncoding.AppendEncode(enc[:0], key.Sum(sum[:0], []byte(v))))
}

// secure reports whether cookies get the Secure attribute: when the
// issuer is https.
func (s *sessions) secure() bool { return strings.HasPrefix(s.idp.cfg.Issuer, "https://") }

// cookie is the cookie base (sessionCookie, csrfCookie) under its name
// (CookieName): Path=/, no Domain.
func (s *sessions) cookie(base, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: s.name(base), Value: value, Path: "/", HttpOnly: true, Secure: s.secure(),
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge}
}

func (s *sessions) name(base string) string { return CookieName(s.idp.cfg.Issuer, base) }

// read is the value of the browser's cookie base ("" when none).
func (s *sessions) read(c echo.Context, base string) string {
	ck, err := c.Cookie(s.name(base))
	if err != nil {
		return ""
	}
	return ck.Value
}

// current returns the browser's live session, or ok false. A session
// whose user was deleted, disabled or changed their password after it
// started is not valid; it is ended (session.ended) on the way.
func (s *sessions) current(c echo.Context) (projections.Session, projections.User, bool, error) {
	secret := s.read(c, sessionCookie)
	if secret == "" {
		return projections.Session{}, projections.User{}, false, nil
	}
	ctx := c.Request().Context()
	id := mac(s.key, secret)
	sess, err := lookAgain(ctx, s.idp, func() (projections.Session, error) { return projections.GetSession(ctx, s.idp.cfg.Store, id) })
	if errors.Is(err, projections.ErrNotFound) {
		return sess, projections.User{}, false, nil
	}
	if err != nil {
		return sess, projections.User{}, false, err
	}
	if !s.idp.now().Before(sess.ExpiresAt) {
		return sess, projections.User{}, false, nil
	}
	u, err := s.idp.activeUser(ctx, sess.Tenant, sess.UserID)
	if errors.Is(err, errUserGone) || (err == nil && (u.PasswordChangedAt.After(sess.AuthTime) ||
		(u.DisabledAt != nil && u.DisabledAt.After(sess.AuthTime)))) {
		return sess, u, false, s.end(ctx, sess, events.SessionEndedUser)
	}
	return sess, u, err == nil, err
}

// start begins a session of user u and sets its cookie.
func (s *sessions) start(c echo.Context, u projections.User) (projections.Session, error) {
	secret := oauth.RandomToken(32)
	now := s.idp.now().UTC()
	sess := projections.Session{ID: mac(s.key, secret), Tenant: u.Tenant,
		SessionStarted: events.SessionStarted{UserID: u.ID, AuthTime: now, ExpiresAt: now.Add(s.idp.cfg.SessionTTL)}}
	ref := events.Ref{Tenant: u.Tenant, Type: events.AggSession, ID: sess.ID}
	ev, err := events.New(ref, events.Actor{Kind: events.ActorUser, ID: u.ID}, now,
		&events.SessionStarted{UserID: u.ID, AuthTime: sess.AuthTime, ExpiresAt: sess.ExpiresAt})
	if err != nil {
		return sess, err
	}
	_, err = command.Run(c.Request().Context(), command.Deps{Log: s.idp.cfg.Log, WaitFor: s.idp.cfg.WaitFor, Attempts: 1},
		func(context.Context, int) (command.Decision, error) {
			return command.Decision{Append: events.Append{Events: []events.Event{ev}, Expect: []events.Expect{{Ref: ref, Seq: 0}}}}, nil
		})
	if err != nil {
		return sess, err
	}
	c.SetCookie(s.cookie(sessionCookie, secret, int(s.idp.cfg.SessionTTL/time.Second)))
	return sess, nil
}

// end appends session.ended.
func (s *sessions) end(ctx context.Context, sess projections.Session, reason string) error {
	ev, err := events.New(events.Ref{Tenant: sess.Tenant, Type: events.AggSession, ID: sess.ID},
		events.Actor{Kind: events.ActorUser, ID: sess.UserID}, s.idp.now(), &events.SessionEnded{UserID: sess.UserID, Reason: reason})
	if err != nil {
		return err
	}
	res, err := s.idp.cfg.Log.Append(ctx, events.Append{Events: []events.Event{ev}, DedupeID: "session-end-" + sess.ID})
	if err != nil {
		return err
	}
	return s.idp.cfg.WaitFor(ctx, res.Stream, res.Last())
}

// CSRF tokens are bound to what the browser is signed in as, never to
// a cookie alone (a cookie a sibling subdomain or a plain-http answer
// planted, with the token its planter read beside it, would pass a
// double-submit check). The token is the HMAC (sealing.CSRFKey) of
//
//   - the session's id (the HMAC of the session cookie's secret) when the
//     browser has a session cookie: a token of one session is refused
//     with another;
//   - else, and always on the login page (which is before a session, and
//     must not fail because another tab signed in meanwhile), the
//     browser's CSRF cookie (set here when missing);
//
// each with the flow the form answers (the login or consent page's
// return_to: the pending authorization request; "" for the others), so
// a token of one request does not answer another. The console binds its
// tokens to its own session (BoundCSRFToken).
const (
	bindSession = "session"
	bindBrowser = "browser"
	bindConsole = "console"
)

// csrfMAC is the token of binding kind, value and flow.
func (s *sessions) csrfMAC(kind, value, flow string) string {
	return mac(s.csrfKey, kind+"\x00"+value+"\x00"+flow)
}

// binding is what this browser's tokens are bound to now (kind, value),
// the login form's (login true) or another's; value "" when nothing (no
// session, no CSRF cookie).
func (s *sessions) binding(c echo.Context, login bool) (string, string) {
	if secret := s.read(c, sessionCookie); secret != "" && !login {
		return bindSession, mac(s.key, secret)
	}
	if v := s.read(c, csrfCookie); len(v) >= 32 {
		return bindBrowser, v
	}
	return bindBrowser, ""
}

// csrf returns the CSRF token of this browser's form answering flow,
// setting the CSRF cookie when the browser has neither a session nor a
// CSRF cookie.
func (s *sessions) csrf(c echo.Context, flow string) string { return s.token(c, flow, false) }

// loginCSRF returns the token of the login form answering back.
func (s *sessions) loginCSRF(c echo.Context, back string) string { return s.token(c, back, true) }

func (s *sessions) token(c echo.Context, flow string, login bool) string {
	kind, v := s.binding(c, login)
	if v == "" {
		v = oauth.RandomToken(32)
		c.SetCookie(s.cookie(csrfCookie, v, 0))
	}
	return s.csrfMAC(kind, v, flow)
}

// checkCSRF reports whether the posted form's csrf_token is this
// browser's token of flow.
func (s *sessions) checkCSRF(c echo.Context, flow string) bool { return s.check(c, flow, false) }

// checkLoginCSRF reports whether the posted login form's csrf_token is
// this browser's token of the login answering back.
func (s *sessions) checkLoginCSRF(c echo.Context, back string) bool { return s.check(c, back, true) }

func (s *sessions) check(c echo.Context, flow string, login bool) bool {
	kind, v := s.binding(c, login)
	if v == "" {
		return false
	}
	return hmac.Equal([]byte(s.csrfMAC(kind, v, flow)), []byte(c.FormValue("csrf_token")))
}

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
// log and the projections know only its HMAC (the session id).
const (
	sessionCookie = "gh_session"
	csrfCookie    = "gh_csrf"
)

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

func (s *sessions) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: s.secure(),
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge}
}

// current returns the browser's live session, or ok false. A session
// whose user was deleted, disabled or changed their password after it
// started is not valid; it is ended (session.ended) on the way.
func (s *sessions) current(c echo.Context) (projections.Session, projections.User, bool, error) {
	ck, err := c.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return projections.Session{}, projections.User{}, false, nil
	}
	ctx := c.Request().Context()
	id := mac(s.key, ck.Value)
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

// csrf returns the CSRF token of this browser's forms, setting the CSRF
// cookie when the browser has none. The token is the HMAC of the
// cookie's value: a form posted from another browser, or without the
// cookie, is refused.
func (s *sessions) csrf(c echo.Context) string {
	ck, err := c.Cookie(csrfCookie)
	v := ""
	if err == nil && len(ck.Value) >= 32 {
		v = ck.Value
	} else {
		v = oauth.RandomToken(32)
		c.SetCookie(s.cookie(csrfCookie, v, 0))
	}
	return mac(s.csrfKey, v)
}

// checkCSRF reports whether the posted form's csrf_token matches the
// browser's CSRF cookie.
func (s *sessions) checkCSRF(c echo.Context) bool {
	ck, err := c.Cookie(csrfCookie)
	if err != nil || ck.Value == "" {
		return false
	}
	want := mac(s.csrfKey, ck.Value)
	return hmac.Equal([]byte(want), []byte(c.FormValue("csrf_token")))
}

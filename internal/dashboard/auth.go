package dashboard

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
)

const (
	sessionCookie = "custodian_session"
	csrfHeader    = "X-CSRF-Token"
	sessionTTL    = 12 * time.Hour
	// loginFailDelay slows down token guessing through the login form.
	loginFailDelay = 300 * time.Millisecond
	// maxLoginBody bounds the login form.
	maxLoginBody = 4096
)

// auth holds the admin token rules. Without a token every POST is open
// (the dashboard binds loopback by default) but cross-site POSTs are still
// refused. With a token a POST needs "Authorization: Bearer <token>", or
// the login cookie (HttpOnly, SameSite=Strict) plus a same-origin request
// carrying the CSRF token in X-CSRF-Token. Cookies and CSRF tokens are
// HMACs keyed by the admin token: nothing to store, and a new token voids
// every old session.
type auth struct {
	token string
}

func newAuth(token string) *auth { return &auth{token: token} }

func (a *auth) enabled() bool { return a.token != "" }

func (a *auth) mac(msg string) string {
	m := hmac.New(sha256.New, []byte(a.token))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// csrfToken is the token the page sends back in X-CSRF-Token.
func (a *auth) csrfToken() string { return a.mac("custodian csrf v1") }

func (a *auth) sessionValue(exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return e + "." + a.mac("custodian session v1 "+e)
}

// sessionOK reports whether the request carries a valid, unexpired login
// cookie.
func (a *auth) sessionOK(r *http.Request) bool {
	if !a.enabled() {
		return false
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return false
	}
	e, mac, ok := strings.Cut(c.Value, ".")
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || time.Now().Unix() > exp {
		return false
	}
	return equal(mac, a.mac("custodian session v1 "+e))
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// crossSite reports whether a browser says the request comes from another
// site (Sec-Fetch-Site) or another origin (Origin).
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return true
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return true
		}
	}
	return false
}

// sameOrigin reports whether the browser positively says the request comes
// from this origin.
func sameOrigin(r *http.Request) bool {
	if crossSite(r) {
		return false
	}
	return r.Header.Get("Sec-Fetch-Site") == "same-origin" || r.Header.Get("Origin") != ""
}

// allowPost applies the token rules to a POST and answers the refusal
// itself.
func (a *auth) allowPost(w http.ResponseWriter, r *http.Request) bool {
	if !a.enabled() {
		if crossSite(r) {
			writeError(w, http.StatusForbidden, codeForbidden, "cross-site request refused")
			return false
		}
		return true
	}
	if tok, ok := bearer(r); ok {
		if equal(tok, a.token) {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="custodian", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, codeUnauthorized, "wrong admin token")
		return false
	}
	if a.sessionOK(r) {
		if !sameOrigin(r) {
			writeError(w, http.StatusForbidden, codeForbidden, "cross-site request refused")
			return false
		}
		if !equal(r.Header.Get(csrfHeader), a.csrfToken()) {
			writeError(w, http.StatusForbidden, codeForbidden, "missing or wrong "+csrfHeader)
			return false
		}
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="custodian"`)
	writeError(w, http.StatusUnauthorized, codeUnauthorized, "this action needs the admin token (Authorization: Bearer <token>, or log in on the page)")
	return false
}

// GET /api/session: what the page needs to know about the login.
func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{"auth_required": s.auth.enabled(), "logged_in": !s.auth.enabled()}
	if s.auth.sessionOK(r) {
		body["logged_in"] = true
		body["csrf_token"] = s.auth.csrfToken()
	}
	writeJSON(w, http.StatusOK, body)
}

// POST /login (form field "token"): sets the session cookie.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if crossSite(r) {
		writeError(w, http.StatusForbidden, codeForbidden, "cross-site request refused")
		return
	}
	if !s.auth.enabled() {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeAPIError(w, apierr.New(apierr.TooLarge, "login form larger than %d bytes", maxLoginBody))
			return
		}
		writeAPIError(w, apierr.Wrap(apierr.InvalidRequest, err, "login form"))
		return
	}
	if !equal(r.PostForm.Get("token"), s.auth.token) {
		// Slow down guessing.
		t := time.NewTimer(loginFailDelay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`<!doctype html><title>Custodian: login failed</title><p>Wrong admin token. <a href="/">Back</a></p>`))
		return
	}
	exp := time.Now().Add(sessionTTL)
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    s.auth.sessionValue(exp),
		Path:     "/",
		Expires:  exp,
		MaxAge:   int(sessionTTL.Seconds()),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// POST /logout: clears the session cookie.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if crossSite(r) {
		writeError(w, http.StatusForbidden, codeForbidden, "cross-site request refused")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

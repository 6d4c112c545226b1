package dashboard

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/custodian-dev/custodian/internal/events"
)

func TestAdminTokenBearer(t *testing.T) {
	e := setup(t, Config{AdminToken: "s3cret"})
	r := e.respond("users", events.VerbCompact)

	e.expectError("POST", "/api/tables/users/compact", nil, nil, 401, "unauthorized")
	e.expectError("POST", "/api/tables/users/compact", nil, map[string]string{"Authorization": "Bearer wrong"}, 401, "unauthorized")
	e.expectError("POST", "/api/tables/users/compact", nil, map[string]string{"Authorization": "Basic czNjcmV0"}, 401, "unauthorized")
	if msgs, _ := r.requests(); len(msgs) != 0 {
		t.Fatalf("unauthorized requests reached NATS: %d", len(msgs))
	}
	var reply events.CommandReply
	resp := e.do("POST", "/api/tables/users/compact", nil, map[string]string{"Authorization": "Bearer s3cret"}, &reply)
	if resp.StatusCode != http.StatusAccepted || reply.CommandID == "" {
		t.Fatalf("with token: %d %+v", resp.StatusCode, reply)
	}
	if msgs, _ := r.requests(); len(msgs) != 1 {
		t.Fatalf("authorized request: %d at the responder", len(msgs))
	}
	// Reads stay open.
	for _, p := range []string{"/", "/api/tables", "/api/history", "/metrics", "/healthz"} {
		resp := e.do("GET", p, nil, nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s with a token configured: %d", p, resp.StatusCode)
		}
	}
}

// noRedirect is a client that shows redirects instead of following them.
func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestAdminTokenLoginCookieAndCSRF(t *testing.T) {
	e := setup(t, Config{AdminToken: "s3cret"})
	r := e.respond("users", events.VerbCompact)
	client := noRedirect()
	origin := e.url

	login := func(token string, hdr map[string]string) *http.Response {
		req, _ := http.NewRequest("POST", e.url+"/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := login("nope", map[string]string{"Origin": origin}); resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
		t.Fatalf("wrong token login: %d cookies %v", resp.StatusCode, resp.Cookies())
	}
	if resp := login("s3cret", map[string]string{"Origin": "https://evil.example"}); resp.StatusCode != 403 || len(resp.Cookies()) != 0 {
		t.Fatalf("cross-site login: %d", resp.StatusCode)
	}
	resp := login("s3cret", map[string]string{"Origin": origin})
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Cookies())
	}
	cookie := resp.Cookies()[0]
	if cookie.Name != sessionCookie || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || strings.Contains(cookie.Value, "s3cret") {
		t.Fatalf("cookie %+v", cookie)
	}
	cookieHdr := cookie.Name + "=" + cookie.Value

	var sess map[string]any
	e.do("GET", "/api/session", nil, nil, &sess)
	if sess["auth_required"] != true || sess["logged_in"] != false || sess["csrf_token"] != nil {
		t.Fatalf("session without cookie: %v", sess)
	}
	e.do("GET", "/api/session", nil, map[string]string{"Cookie": cookieHdr}, &sess)
	csrf, _ := sess["csrf_token"].(string)
	if sess["logged_in"] != true || csrf == "" {
		t.Fatalf("session with cookie: %v", sess)
	}

	cases := []struct {
		name   string
		hdr    map[string]string
		status int
		code   string
	}{
		{"cookie alone", map[string]string{"Cookie": cookieHdr}, 403, "forbidden"},
		{"cookie and origin, no csrf", map[string]string{"Cookie": cookieHdr, "Origin": origin}, 403, "forbidden"},
		{"cookie, csrf, other origin", map[string]string{"Cookie": cookieHdr, "Origin": "https://evil.example", csrfHeader: csrf}, 403, "forbidden"},
		{"cookie, csrf, cross-site fetch", map[string]string{"Cookie": cookieHdr, "Sec-Fetch-Site": "cross-site", csrfHeader: csrf}, 403, "forbidden"},
		{"cookie, origin, wrong csrf", map[string]string{"Cookie": cookieHdr, "Origin": origin, csrfHeader: "x" + csrf}, 403, "forbidden"},
		{"forged cookie", map[string]string{"Cookie": sessionCookie + "=99999999999.abcd", "Origin": origin, csrfHeader: csrf}, 401, "unauthorized"},
	}
	for _, c := range cases {
		e.expectError("POST", "/api/tables/users/compact", nil, c.hdr, c.status, c.code)
	}
	if msgs, _ := r.requests(); len(msgs) != 0 {
		t.Fatalf("refused requests reached NATS: %d", len(msgs))
	}
	var reply events.CommandReply
	ok := e.do("POST", "/api/tables/users/compact", nil, map[string]string{"Cookie": cookieHdr, "Origin": origin, "Sec-Fetch-Site": "same-origin", csrfHeader: csrf}, &reply)
	if ok.StatusCode != http.StatusAccepted || reply.CommandID == "" {
		t.Fatalf("page POST: %d %+v", ok.StatusCode, reply)
	}

	req, _ := http.NewRequest("POST", e.url+"/logout", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Cookie", cookieHdr)
	out, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	if out.StatusCode != http.StatusSeeOther || len(out.Cookies()) != 1 || out.Cookies()[0].MaxAge >= 0 {
		t.Fatalf("logout: %d %v", out.StatusCode, out.Cookies())
	}
}

func TestNoTokenRefusesCrossSite(t *testing.T) {
	e := setup(t, Config{})
	r := e.respond("users", events.VerbCompact)
	e.expectError("POST", "/api/tables/users/compact", nil, map[string]string{"Origin": "https://evil.example"}, 403, "forbidden")
	e.expectError("POST", "/api/tables/users/compact", nil, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "forbidden")
	if msgs, _ := r.requests(); len(msgs) != 0 {
		t.Fatalf("cross-site requests reached NATS: %d", len(msgs))
	}
	var reply events.CommandReply
	if resp := e.do("POST", "/api/tables/users/compact", nil, map[string]string{"Origin": e.url}, &reply); resp.StatusCode != 202 {
		t.Fatalf("same-origin POST without a token configured: %d", resp.StatusCode)
	}
}

func TestLoopbackRefusesOtherHosts(t *testing.T) {
	e := setup(t, Config{}) // default Listen: 127.0.0.1:8080
	for host, status := range map[string]int{
		"evil.example:8080":  403,
		"evil.example":       403,
		"127.0.0.1:8080":     200,
		"localhost:8080":     200,
		"[::1]:8080":         200,
		"app.localhost:8080": 200,
	} {
		if got := statusWithHost(t, e.url+"/api/tables", host); got != status {
			t.Errorf("Host %s: %d, want %d", host, got, status)
		}
	}
	proxied := setup(t, Config{AllowedHosts: []string{"Dash.Example.com"}})
	for host, status := range map[string]int{"dash.example.com": 200, "dash.example.com:443": 200, "evil.example": 403} {
		if got := statusWithHost(t, proxied.url+"/healthz", host); got != status {
			t.Errorf("allowed hosts, Host %s: %d, want %d", host, got, status)
		}
	}
	if loopbackOnly("0.0.0.0:8080") || loopbackOnly(":8080") || !loopbackOnly("[::1]:80") {
		t.Fatal("loopbackOnly")
	}
}

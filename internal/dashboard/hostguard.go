package dashboard

import (
	"net"
	"net/http"
	"strings"
)

// loopbackOnly reports whether the listen address is a loopback one (the
// default): then only loopback Host headers are served, which stops a DNS
// rebinding page (evil.example resolving to 127.0.0.1) from reading the
// dashboard or sending it commands through the victim's browser.
func loopbackOnly(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	return isLoopbackHost(host)
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// hostGuard refuses requests whose Host is not loopback, nor one of
// allowed (a reverse proxy's public name), when the dashboard listens on
// loopback only.
func hostGuard(listen string, allowed []string, next http.Handler) http.Handler {
	if !loopbackOnly(listen) {
		return next
	}
	ok := map[string]bool{}
	for _, h := range allowed {
		ok[strings.ToLower(strings.TrimSpace(h))] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if !isLoopbackHost(host) && !ok[strings.ToLower(host)] {
			writeError(w, http.StatusForbidden, codeForbidden, "host "+r.Host+" refused: the dashboard listens on loopback only (allow it with --allowed-hosts)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

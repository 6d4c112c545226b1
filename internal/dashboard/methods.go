package dashboard

import (
	"net/http"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// otherMethods answers a request to one of the dashboard's paths with a
// method the path does not take: 405 method_not_allowed with an Allow
// header (the "/api/" catch-all would say 404, as if the path did not
// exist). The method patterns of routes are more specific, so these see
// only the other methods.
func (s *Server) otherMethods(m *http.ServeMux) {
	get := methodNotAllowed("GET, HEAD")
	for _, path := range []string{"/api/tables", "/api/tables/{table}", "/api/history", "/api/stream", "/api/session"} {
		m.Handle(path, get)
	}
	post := methodNotAllowed(http.MethodPost)
	m.Handle("/login", post)
	m.Handle("/logout", post)
	m.HandleFunc("/api/tables/{table}/{verb}", func(w http.ResponseWriter, r *http.Request) {
		if !actionVerb(r.PathValue("verb")) {
			s.handleAPINotFound(w, r)
			return
		}
		post.ServeHTTP(w, r)
	})
	m.HandleFunc("/api/nodes/{node}/{verb}", func(w http.ResponseWriter, r *http.Request) {
		if !nodeActionVerb(r.PathValue("verb")) {
			s.handleAPINotFound(w, r)
			return
		}
		post.ServeHTTP(w, r)
	})
}

func methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, r.Method+" "+r.URL.Path+": this URL takes "+allow)
	})
}

// handleAPINotFound: anything else under /api/ is a JSON 404.
func (s *Server) handleAPINotFound(w http.ResponseWriter, r *http.Request) {
	writeAPIError(w, apierr.New(apierr.NotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
}

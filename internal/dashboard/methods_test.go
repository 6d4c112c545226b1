package dashboard

import (
	"net/http"
	"testing"
)

// TestActionURLsAnswer405 to the methods they do not take, with an Allow
// header and the contract's error shape; an unknown action stays 404.
func TestActionURLsAnswer405(t *testing.T) {
	e := setup(t, Config{AdminToken: "tok"})
	check := func(method, path, allow string) {
		t.Helper()
		var ae apiError
		resp := e.do(method, path, nil, nil, &ae)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != allow ||
			ae.Error.Code != "method_not_allowed" || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s %s: %d Allow %q %+v", method, path, resp.StatusCode, resp.Header.Get("Allow"), ae)
		}
	}
	for _, verb := range []string{"compact", "backup", "verify", "restore", "drill"} {
		check(http.MethodGet, "/api/tables/users/"+verb, "POST")
		check(http.MethodPut, "/api/tables/users/"+verb, "POST")
	}
	check(http.MethodGet, "/login", "POST")
	check(http.MethodGet, "/logout", "POST")
	check(http.MethodPost, "/api/history", "GET, HEAD")
	check(http.MethodDelete, "/api/tables/users", "GET, HEAD")
	e.expectError(http.MethodGet, "/api/tables/users/shrink", nil, nil, http.StatusNotFound, "not_found")
	e.expectError(http.MethodPost, "/api/tables/users/shrink", nil, map[string]string{"Authorization": "Bearer tok"}, http.StatusNotFound, "not_found")
	e.expectError(http.MethodGet, "/api/nothing", nil, nil, http.StatusNotFound, "not_found")
	// HEAD of a GET URL is no 405.
	resp, err := http.Head(e.url + "/api/tables")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD /api/tables: %v %v", resp, err)
	}
	resp.Body.Close()
}

package dashboard

import (
	"encoding/json"
	"net/http"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// errorBody is the contract's error shape.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// HTTP-only error codes for the dashboard's own access rules; everything
// else uses the contract's codes.
const (
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeMethodNotAllowed = "method_not_allowed" // 405, with an Allow header
	codeTooManyStreams   = "too_many_streams"   // 503 on GET /api/stream over a cap, with a Retry-After
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, string(apierr.Internal), "encode: "+err.Error())
		return
	}
	writeRaw(w, status, append(b, '\n'))
}

// writeError answers with the contract's error shape (which always encodes).
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: msg}})
}

// writeRaw answers with a JSON body as it is, ending it with a newline.
func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	if len(b) == 0 || b[len(b)-1] != '\n' {
		_, _ = w.Write([]byte{'\n'})
	}
}

// writeAPIError answers with err's contract code and its status.
func writeAPIError(w http.ResponseWriter, err error) {
	code := apierr.CodeOf(err)
	writeError(w, code.Status(), string(code), apierr.MessageOf(err))
}

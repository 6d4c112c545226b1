package dashboard

import (
	"errors"
	"net/http"
	"time"
)

// writeDeadlineIn sets the connection's write deadline d from now. The
// server gives each answer Limits.WriteTimeout from the end of its
// request's headers; two answers take longer by design and move it: an
// event stream (before each write) and an action that waits for its
// command. (The read deadline needs no such care: the server lifts it
// itself once the request's body is read.)
func writeDeadlineIn(w http.ResponseWriter, d time.Duration) error {
	err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
	if errors.Is(err, http.ErrNotSupported) {
		return nil // a writer without deadlines (a test recorder) has none to move
	}
	return err
}

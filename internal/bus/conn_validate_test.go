package bus

import (
	"strings"
	"testing"
)

// With several files missing, Validate names the same one every time (the
// first in the order of the flags), not one picked by map order.
func TestValidateNamesTheFirstMissingFileEveryTime(t *testing.T) {
	o := ConnOptions{Creds: "/nonexistent/a.creds", CA: "/nonexistent/ca.pem", Cert: "/nonexistent/c.pem", Key: "/nonexistent/k.pem"}
	for range 50 {
		err := o.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), "--nats-creds:") {
			t.Fatalf("want the error to name --nats-creds, got %v", err)
		}
	}
}

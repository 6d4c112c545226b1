package apierr

import (
	"errors"
	"fmt"
	"testing"
)

func TestCodesAndStatuses(t *testing.T) {
	want := map[Code]int{InvalidRequest: 400, InvalidTable: 400, NotFound: 404, Busy: 409,
		TooLarge: 413, TableUnavailable: 503, NoSpace: 507, Internal: 500, Code("other"): 500}
	for c, s := range want {
		if c.Status() != s {
			t.Errorf("%s: status %d, want %d", c, c.Status(), s)
		}
	}
}

func TestCodeOfWrappedErrors(t *testing.T) {
	base := New(NotFound, "key %q not found", "k")
	wrapped := fmt.Errorf("table users: get: %w", base)
	if CodeOf(wrapped) != NotFound || MessageOf(wrapped) != `key "k" not found` {
		t.Fatalf("wrapped: %s %q", CodeOf(wrapped), MessageOf(wrapped))
	}
	plain := errors.New("disk on fire")
	if CodeOf(plain) != Internal || MessageOf(plain) != "disk on fire" {
		t.Fatalf("plain: %s %q", CodeOf(plain), MessageOf(plain))
	}
	cause := errors.New("checksum mismatch")
	w := Wrap(TableUnavailable, cause, "table %s is restoring", "users")
	if !errors.Is(w, cause) || MessageOf(w) != "table users is restoring: checksum mismatch" {
		t.Fatalf("wrap: %q", MessageOf(w))
	}
}

package supervisor

import (
	"errors"
	"testing"
)

func TestOpErrorNamesTableAndOperationOnce(t *testing.T) {
	base := errors.New("checksum mismatch")
	once := opError("users", "verify", base)
	if once.Error() != "table users: verify: checksum mismatch" || !errors.Is(once, base) {
		t.Fatalf("first wrap: %q", once)
	}
	if again := opError("users", "verify", once); again.Error() != once.Error() {
		t.Fatalf("wrapped twice: %q", again)
	}
	if other := opError("users", "backup", once); other.Error() != "table users: backup: table users: verify: checksum mismatch" {
		t.Fatalf("another operation must still wrap: %q", other)
	}
	if opError("users", "verify", nil) != nil {
		t.Fatal("nil must stay nil")
	}
}

package changelog

import (
	"errors"
	"os"
	"testing"
)

// FuzzReadFile: arbitrary bytes read as a journal never panic or hang,
// every op read is a put or a delete, and every refusal is a *Damage.
func FuzzReadFile(f *testing.F) {
	w := writeJournal(f)
	b, err := os.ReadFile(w.journal)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte{})
	f.Add(make([]byte, 40))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Read("000001.log", data, 0, func(op Op) error {
			if op.Kind != "put" && op.Kind != "delete" {
				t.Fatalf("op kind %q", op.Kind)
			}
			if op.Kind == "delete" && op.Value != nil {
				t.Fatalf("a delete with a value")
			}
			return nil
		})
		var d *Damage
		if err != nil && !errors.As(err, &d) {
			t.Fatalf("an error that is not a *Damage: %v", err)
		}
	})
}

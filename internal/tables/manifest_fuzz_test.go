package tables

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzReadManifest: the backup manifest reader never panics; a manifest it
// refuses is ErrBackupInvalid (a restore then tries the next older
// backup); one it accepts has an id, a table and a digest, and reads back
// the same once written again. Seeds are below and in
// testdata/fuzz/FuzzReadManifest/.
func FuzzReadManifest(f *testing.F) {
	good, err := json.MarshalIndent(Manifest{ID: newBackupID(time.Unix(1700000000, 5)), Table: "users",
		Created: time.Unix(1700000000, 5).UTC(), Records: 3, Bytes: 4096, Digest: "ab12"}, "", "  ")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{string(good), `{}`, `{"id":"x","table":"t","digest":"d"}`, `{"id":"x","table":"t","digest":"d","created":"nope"}`,
		`{"id":"x","table":"t","digest":"d","records":-1,"bytes":1e400}`, `[`, ``, `null`, `{"id":"` + "\xff" + `","table":"t","digest":"d"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseManifest(b)
		if err != nil {
			if !errors.Is(err, ErrBackupInvalid) {
				t.Fatalf("%q: %v, not ErrBackupInvalid", b, err)
			}
			return
		}
		if m.ID == "" || m.Table == "" || m.Digest == "" {
			t.Fatalf("%q: accepted %+v", b, m)
		}
		for _, s := range []string{m.ID, m.Table, m.Digest} {
			if !utf8.ValidString(s) {
				t.Fatalf("%q: accepted %q", b, s)
			}
		}
		again, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			t.Fatalf("%q: accepted %+v, which cannot be written again: %v", b, m, err)
		}
		m2, err := parseManifest(again)
		if err != nil || m2.ID != m.ID || m2.Table != m.Table || m2.Digest != m.Digest || m2.Records != m.Records ||
			m2.Bytes != m.Bytes || !m2.Created.Equal(m.Created) {
			t.Fatalf("%q: %+v did not round-trip: %+v %v", b, m, m2, err)
		}
	})
}

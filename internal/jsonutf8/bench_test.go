package jsonutf8

import (
	"strings"
	"testing"
)

// BenchmarkCheck is the check's cost on what a put carries: the bus
// benchmarks' value, 4 KiB of ASCII, of non-ASCII text, and of \u escapes.
func BenchmarkCheck(b *testing.B) {
	for _, c := range []struct{ name, json string }{
		{"bench-value", `{"name":"ada lovelace","visits":12345,"tags":["a","b","c"]}`},
		{"4KiB-ascii", `"` + strings.Repeat("abcdefg\\n", 4096/9) + `"`},
		{"4KiB-text", `"` + strings.Repeat("é€a\\n", 4096/7) + `"`},
		{"4KiB-u-escapes", `"` + strings.Repeat(`\u00e9\ud83d\ude00`, 4096/18) + `"`},
	} {
		v := []byte(c.json)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(v)))
			for b.Loop() {
				if err := Check(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

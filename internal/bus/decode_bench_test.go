package bus

import (
	"strings"
	"testing"
)

// BenchmarkDecodePut is the decoding of a data-plane put alone: the
// benchmarks' body (the fast path), the same with a 4 KiB string value of
// non-ASCII text (what the Unicode check reads), and one with an escaped
// key (the strict decoder).
func BenchmarkDecodePut(b *testing.B) {
	for _, c := range []struct{ name, body string }{
		{"plain", `{"key":"k00042","value":` + benchValue + `}`},
		{"4KiB-text", `{"key":"k00042","value":"` + strings.Repeat("é€a\\n", 4096/7) + `"}`},
		{"escaped-key", `{"key":"k\u00e90042","value":` + benchValue + `}`},
	} {
		body := []byte(c.body)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := decodePut(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

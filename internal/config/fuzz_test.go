package config

import (
	"math"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// FuzzParse: the config loader never panics; a file it refuses gets an
// error naming the file; one it accepts reads back the same once written
// again. Seeds are below and in testdata/fuzz/FuzzParse/.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"data: /var/lib/custodian\nnode: n1\ntables: [users, orders]\nnats:\n  url: nats://127.0.0.1:4222\n",
		"stream:\n  replicas: 3\n  max_age: 720h\ndefaults:\n  compact_every: 30m\n  threshold: 0.3\noverrides:\n  users:\n    backup_every: 1h\n",
		"max_body: lots\n", "nodes: n1\n", "tables: users\n", "defaults:\n  compact_every: 5\n", "{}", "", "- a\n", "data: [\n",
		"a: &x [*x]\n", "data: !!binary aGVsbG8=\n", "max_body: 0x10\n", "data: \"\\xff\"\n", "data: \"\\ud800\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := Parse("fuzz.yaml", b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config fuzz.yaml: ") {
				t.Fatalf("%q: %v", b, err)
			}
			return
		}
		if hasNaN(cfg) {
			return // NaN != NaN: nothing to compare
		}
		out, err := yaml.MarshalWithOptions(cfg, yaml.JSON())
		if err != nil {
			t.Fatalf("%q: accepted %+v, which cannot be written: %v", b, cfg, err)
		}
		// Compared as written: an empty list or map is written as [] or
		// {} and reads back empty instead of nil, which means the same.
		again, err := Parse("again.yaml", out)
		if err != nil {
			t.Fatalf("%q: %+v was written as %q, which is refused: %v", b, cfg, out, err)
		}
		if out2, err := yaml.MarshalWithOptions(again, yaml.JSON()); err != nil || string(out2) != string(out) {
			t.Fatalf("%q: %q read back as %q %v", b, out, out2, err)
		}
	})
}

func hasNaN(f File) bool {
	nan := func(x float64) bool { return math.IsNaN(x) }
	if nan(f.Defaults.Jitter) || nan(f.Defaults.Threshold) {
		return true
	}
	for _, p := range f.Overrides {
		if nan(p.Jitter) || nan(p.Threshold) {
			return true
		}
	}
	return false
}

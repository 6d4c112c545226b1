package events

import (
	"encoding/json"
	"math"
	"testing"
)

func TestNumberAndInteger(t *testing.T) {
	data := map[string]any{"f": 2.5, "i": 7, "i64": int64(8), "j": json.Number("9"), "nan": math.NaN(), "s": "10"}
	for key, want := range map[string]float64{"f": 2.5, "i": 7, "i64": 8, "j": 9} {
		if got, ok := Number(data, key); !ok || got != want {
			t.Errorf("Number %s = %v %v, want %v", key, got, ok, want)
		}
	}
	for _, key := range []string{"nan", "s", "missing"} {
		if _, ok := Number(data, key); ok {
			t.Errorf("Number %s: a figure", key)
		}
	}
	if got, ok := Integer(data, "f"); !ok || got != 2 {
		t.Errorf("Integer f = %v %v, want 2", got, ok)
	}
}

func TestCut(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 5, "abc"}, {"abc", 2, "ab"}, {"aé", 2, "a"}, {"aé", 3, "aé"}, {"é", 1, ""}, {"abc", 0, ""}, {"abc", -1, ""},
	} {
		if got := Cut(c.s, c.n); got != c.want {
			t.Errorf("Cut(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}

package projections

import (
	"reflect"
	"testing"

	"github.com/custodian-dev/custodian/internal/events"
)

func TestDecodeMatchesEventsUnmarshal(t *testing.T) {
	evs := script(200)
	for i := 0; i < 64; i++ {
		evs = append(evs, benchEvent(i))
	}
	odd := events.New(events.CompactionFailed, "n1", "users")
	odd.Error = "bad \xff byte"
	odd.Data = map[string]any{"nested": map[string]any{"a": []any{1.0, "x", nil, true}}, "big": 1e300}
	evs = append(evs, odd)
	for i, e := range evs {
		b, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		want, err := events.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decode(b)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("event %d:\n got %#v\nwant %#v", i, got, want)
		}
	}
	for _, bad := range []string{``, `{}`, `{"id":"x"}`, `{"type":"table.stats"}`, `[1]`, `{"id":"x","type":"t","time":"yesterday"}`} {
		if _, err := decode([]byte(bad)); err == nil {
			t.Errorf("decode(%q) succeeded", bad)
		}
		if _, err := events.Unmarshal([]byte(bad)); err == nil {
			t.Errorf("events.Unmarshal(%q) succeeded", bad)
		}
	}
}

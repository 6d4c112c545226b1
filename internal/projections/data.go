package projections

import (
	"encoding/json"
	"math"
	"time"
)

// number reads a numeric figure from an event's data. JSON numbers decode as
// float64; events built in process may carry Go integers.
func number(data map[string]any, key string) (float64, bool) {
	v, ok := data[key]
	if !ok {
		return 0, false
	}
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n)
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint32:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// integer reads an integral figure from an event's data.
func integer(data map[string]any, key string) (int64, bool) {
	f, ok := number(data, key)
	if !ok {
		return 0, false
	}
	return int64(f), true
}

// text reads a string from an event's data.
func text(data map[string]any, key string) string {
	s, _ := data[key].(string)
	return s
}

// timestamp reads an RFC 3339 time from an event's data.
func timestamp(data map[string]any, key string) (time.Time, bool) {
	s, ok := data[key].(string)
	if !ok || s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

package events

import (
	"encoding/json"
	"math"
)

// Number reads a numeric figure from an event's data. JSON numbers decode as
// float64; events built in process may carry Go integers.
func Number(data map[string]any, key string) (float64, bool) {
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

// Integer reads an integral figure from an event's data.
func Integer(data map[string]any, key string) (int64, bool) {
	f, ok := Number(data, key)
	if !ok {
		return 0, false
	}
	return int64(f), true
}

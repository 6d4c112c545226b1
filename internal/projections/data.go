package projections

import (
	"time"
)

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

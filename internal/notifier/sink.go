package notifier

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Sink delivers notifications to one destination.
type Sink interface {
	// Key identifies the sink stably (across restarts and replicas): a
	// short hash of its kind and URL. It keys the delivered set.
	Key() string
	// Name is the sink's kind and URL without credentials or query, for
	// events and logs.
	Name() string
	// Send delivers n. It returns nil only when the sink answered 2xx; a
	// *SendError carries the status and any Retry-After.
	Send(ctx context.Context, n Notification) error
}

// SendError is a delivery that did not get a 2xx answer.
type SendError struct {
	Sink       string
	Status     int           // 0 when no answer came
	RetryAfter time.Duration // from Retry-After on 429 and 503, else 0
	Err        error         // transport error, when no answer came
}

func (e *SendError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("sink %s: %v", e.Sink, e.Err)
	}
	s := fmt.Sprintf("sink %s: HTTP %d", e.Sink, e.Status)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (Retry-After %s)", e.RetryAfter)
	}
	return s
}

func (e *SendError) Unwrap() error { return e.Err }

// sinkKey hashes a sink's kind and URL.
func sinkKey(kind, rawURL string) string {
	sum := sha256.Sum256([]byte(kind + " " + rawURL))
	return kind + "-" + hex.EncodeToString(sum[:8])
}

// redact drops user info, query and fragment from a URL.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "invalid-url"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}

// post sends one request and turns a non-2xx answer into a *SendError.
func post(ctx context.Context, client *http.Client, name, rawURL string, header http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return &SendError{Sink: name, Err: fmt.Errorf("build request: %w", err)}
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		return &SendError{Sink: name, Err: err}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	se := &SendError{Sink: name, Status: resp.StatusCode}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		se.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return se
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

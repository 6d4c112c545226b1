package notifier

import (
	"context"
	"net/http"
	"strings"

	"github.com/custodian-dev/custodian/internal/events"
)

// Ntfy publishes notifications to an ntfy topic URL as plain text.
type Ntfy struct {
	url    string
	token  string
	client *http.Client
}

// NewNtfy returns an ntfy sink; a token is sent as Authorization: Bearer.
func NewNtfy(rawURL, token string, client *http.Client) *Ntfy {
	return &Ntfy{url: rawURL, token: token, client: client}
}

// Key implements Sink.
func (s *Ntfy) Key() string { return sinkKey("ntfy", s.url) }

// Name implements Sink.
func (s *Ntfy) Name() string { return "ntfy " + redact(s.url) }

// Send implements Sink.
func (s *Ntfy) Send(ctx context.Context, n Notification) error {
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Title", headerSafe(n.Title))
	h.Set("Priority", ntfyPriority(n.Severity))
	tags := make([]string, 0, len(n.Tags))
	for _, t := range n.Tags {
		tags = append(tags, strings.ReplaceAll(headerSafe(t), ",", " "))
	}
	h.Set("Tags", strings.Join(tags, ","))
	h.Set("X-Custodian-Id", n.ID)
	if s.token != "" {
		h.Set("Authorization", "Bearer "+s.token)
	}
	return post(ctx, s.client, s.Name(), s.url, h, []byte(clip(n.Message, ntfyMaxBody)))
}

// headerSafe keeps printable ASCII so a title is a valid header value.
func headerSafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// ntfyMaxBody is ntfy's message limit; a longer body would become an
// attachment or be refused.
const ntfyMaxBody = 4096

// clip cuts s to at most max bytes at a line boundary, saying so.
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const more = "\n... (cut to fit ntfy; every event is in the stream and in the webhook payload)\n"
	cut := events.Cut(s, max-len(more))
	if i := strings.LastIndexByte(cut, '\n'); i > 0 {
		cut = cut[:i]
	}
	return cut + more
}

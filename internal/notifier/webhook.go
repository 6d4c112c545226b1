package notifier

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/custodian-dev/custodian/internal/events"
)

// Webhook POSTs notifications as JSON.
type Webhook struct {
	url    string
	secret string
	client *http.Client
}

// NewWebhook returns a webhook sink. With a secret, every request carries
// X-Custodian-Signature: sha256=<hex HMAC-SHA256 of the body>.
func NewWebhook(rawURL, secret string, client *http.Client) *Webhook {
	return &Webhook{url: rawURL, secret: secret, client: client}
}

// WebhookBody is the JSON a webhook receives. A single notification carries
// Event; a digest carries Events and Digest true.
type WebhookBody struct {
	ID       string         `json:"id"`
	Severity string         `json:"severity"`
	Title    string         `json:"title"`
	Message  string         `json:"message"`
	Event    *events.Event  `json:"event,omitempty"`
	Digest   bool           `json:"digest,omitempty"`
	Events   []events.Event `json:"events,omitempty"`
}

// Key implements Sink.
func (w *Webhook) Key() string { return sinkKey("webhook", w.url) }

// Name implements Sink.
func (w *Webhook) Name() string { return "webhook " + redact(w.url) }

// Send implements Sink.
func (w *Webhook) Send(ctx context.Context, n Notification) error {
	body := WebhookBody{ID: n.ID, Severity: n.Severity, Title: n.Title, Message: n.Message}
	if n.Digest {
		body.Digest = true
		body.Events = n.Events
	} else if len(n.Events) == 1 {
		body.Event = &n.Events[0]
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("sink %s: marshal %s: %w", w.Name(), n.ID, err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Idempotency-Key", n.ID)
	if w.secret != "" {
		h.Set("X-Custodian-Signature", Sign(w.secret, b))
	}
	return post(ctx, w.client, w.Name(), w.url, h, b)
}

// Sign is the X-Custodian-Signature value of body: sha256=<hex HMAC-SHA256>.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

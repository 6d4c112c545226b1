package offsite

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// streamReader reads the messages of one subject of a stream in order, from
// its first, as a pulled stream (1,000 messages a request). On a JetStream
// cluster an ordered consumer's pulls sometimes find no consumer on the
// stream's leader for a while (it replaces its consumer on every reset:
// "no responders", or nothing delivered); a read that gets nothing within
// its wait starts a new ordered consumer after the last message read, up to
// readerRetries times, so that nothing is skipped or read twice.
type streamReader struct {
	js      jetstream.JetStream
	stream  string
	subject string
	wait    time.Duration
	last    uint64 // stream sequence of the last message read
	it      jetstream.MessagesContext
}

const readerRetries = 5

func newStreamReader(js jetstream.JetStream, stream, subject string, wait time.Duration) *streamReader {
	return &streamReader{js: js, stream: stream, subject: subject, wait: wait}
}

// pending is how many messages the subject holds after the last read.
func (r *streamReader) pending(ctx context.Context) (uint64, error) {
	c, err := r.consumer(ctx)
	if err != nil {
		return 0, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumPending, nil
}

func (r *streamReader) consumer(ctx context.Context) (jetstream.Consumer, error) {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{r.subject}}
	if r.last > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = r.last + 1
	}
	return r.js.OrderedConsumer(ctx, r.stream, cfg)
}

// next is the next message of the subject.
func (r *streamReader) next(ctx context.Context) (jetstream.Msg, error) {
	var lastErr error
	for try := 0; try <= readerRetries; try++ {
		if r.it == nil {
			c, err := r.consumer(ctx)
			if err == nil {
				r.it, err = c.Messages(jetstream.PullMaxMessages(1000))
			}
			if err != nil {
				lastErr = err
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				continue
			}
		}
		nctx, cancel := context.WithTimeout(ctx, r.wait)
		m, err := r.it.Next(jetstream.NextContext(nctx))
		cancel()
		if err == nil {
			md, merr := m.Metadata()
			if merr != nil {
				return nil, merr
			}
			r.last = md.Sequence.Stream
			return m, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		lastErr = err
		r.it.Stop()
		r.it = nil // a new consumer after the last message read
	}
	return nil, fmt.Errorf("%d tries: %w", readerRetries+1, lastErr)
}

// stop ends the reading.
func (r *streamReader) stop() {
	if r.it != nil {
		r.it.Stop()
		r.it = nil
	}
}

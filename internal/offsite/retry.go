package offsite

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Setting up the stream and the bucket on a JetStream cluster that is
// starting (its meta leader, or a stream's peers, not elected yet) times
// out or finds no responders for a while: tried again every setupRetry for
// up to setupWait, each try with its own time limit.
const (
	setupWait  = 90 * time.Second
	setupRetry = time.Second
	setupTry   = 10 * time.Second
)

// retrying runs f until it succeeds, a configuration error says it never
// will, ctx ends or setupWait has passed; the last error is returned.
func retrying(ctx context.Context, f func(context.Context) error) error {
	deadline := time.Now().Add(setupWait)
	for {
		tctx, cancel := context.WithTimeout(ctx, setupTry)
		err := f(tctx)
		cancel()
		var apiErr *jetstream.APIError
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return err
		case errors.As(err, &apiErr) && apiErr.Code == 400:
			return err // refused as configured: trying again changes nothing
		case time.Now().After(deadline):
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(setupRetry):
		}
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// probeHTTP GETs the one URL in args and wants a 2xx answer.
func probeHTTP(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("want exactly one URL")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s: %s", args[0], resp.Status, body)
	}
	fmt.Fprintf(stdout, "%s: %s\n", args[0], resp.Status)
	return nil
}

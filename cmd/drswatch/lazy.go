package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/drswatch/drswatch/handler"
	"github.com/drswatch/drswatch/pipeline"
)

// Backoff between attempts to open a dependency: from openMinDelay doubling
// to openMaxDelay, with ±20% jitter. A fresh deployment waits for its role
// assignments (up to 30 minutes), so attempts go on for as long as serve
// runs; after escalateAfter the log line is an error rather than a warning.
const (
	openMinDelay  = 500 * time.Millisecond
	openMaxDelay  = 15 * time.Second
	openTimeout   = 20 * time.Second
	escalateAfter = 30 * time.Minute
)

// lazy is a dependency opened in the background and retried until it opens.
// Until then get returns an error wrapping handler.ErrNotReady and the last
// failure. The process never exits because a dependency is unreachable or
// forbidden: the Functions host gives a custom handler 30 s to answer HTTP
// and shuts itself down after 3 failed restarts (functions-host-contract.md,
// "The request"), so serve listens first and opens its dependencies after.
type lazy[T any] struct {
	name string

	mu    sync.Mutex
	v     T
	ok    bool
	err   error // the last failure, while !ok
	ready chan struct{}
}

// openLazy starts opening name with open, retrying with backoff until it
// succeeds or ctx ends.
func openLazy[T any](ctx context.Context, log *slog.Logger, name string, open func(context.Context) (T, error)) *lazy[T] {
	l := &lazy[T]{name: name, err: errors.New("opening"), ready: make(chan struct{})}
	go l.run(ctx, log, open)
	return l
}

func (l *lazy[T]) run(ctx context.Context, log *slog.Logger, open func(context.Context) (T, error)) {
	start := time.Now()
	delay := openMinDelay
	for attempt := 1; ; attempt++ {
		octx, cancel := context.WithTimeout(ctx, openTimeout)
		v, err := open(octx)
		cancel()
		if err == nil {
			l.mu.Lock()
			l.v, l.ok, l.err = v, true, nil
			l.mu.Unlock()
			close(l.ready)
			log.Info("dependency ready", "dependency", l.name, "attempts", attempt,
				"took_ms", time.Since(start).Milliseconds())
			return
		}
		if ctx.Err() != nil {
			return
		}
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
		wait := time.Duration(float64(delay) * (0.8 + 0.4*rand.Float64()))
		level := slog.LevelWarn
		if time.Since(start) > escalateAfter {
			level = slog.LevelError
		}
		log.Log(ctx, level, "dependency not ready; invocations that need it answer 5xx (the host retries them), retrying",
			"dependency", l.name, "attempt", attempt, "retry_in_ms", wait.Milliseconds(),
			"error", truncate(err.Error(), 1000))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		delay = min(2*delay, openMaxDelay)
	}
}

// get returns the dependency, or an error wrapping handler.ErrNotReady.
func (l *lazy[T]) get() (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.ok {
		var zero T
		return zero, fmt.Errorf("%s %w: %w", l.name, handler.ErrNotReady, l.err)
	}
	return l.v, nil
}

// lazyProcessor is a handler.Processor whose pipeline is opened in the
// background.
type lazyProcessor struct{ l *lazy[*opened] }

func (p lazyProcessor) Process(ctx context.Context, b pipeline.Batch) (pipeline.Result, error) {
	d, err := p.l.get()
	if err != nil {
		return pipeline.Result{Events: len(b.Events)}, err
	}
	return d.proc.Process(ctx, b)
}

func (p lazyProcessor) Sweep(ctx context.Context) (pipeline.SweepResult, error) {
	d, err := p.l.get()
	if err != nil {
		return pipeline.SweepResult{}, err
	}
	return d.proc.Sweep(ctx)
}

// lazyDeadLetters is a handler.DeadLetters opened in the background.
type lazyDeadLetters struct{ l *lazy[handler.DeadLetters] }

func (d lazyDeadLetters) Put(ctx context.Context, name string, body io.Reader) error {
	dl, err := d.l.get()
	if err != nil {
		return err
	}
	return dl.Put(ctx, name, body)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

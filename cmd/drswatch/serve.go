package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/handler"
	"github.com/drswatch/drswatch/internal/config"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/store"
	"github.com/drswatch/drswatch/store/memstore"
)

// shutdownGrace is how long in-flight batches may run after SIGTERM.
const shutdownGrace = 25 * time.Second

// serve runs the custom handler. It listens before it opens anything that
// can fail at run time (credential, state store, sink): those are opened in
// the background and retried, and until they are, invocations answer 503 so
// that the host retries them. It returns errors it has not logged.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: drswatch serve (settings from the environment)")
		return errUsage
	}
	cfg, err := config.Load(getenv, func(c *config.Config) {
		if c.State == config.StateUnset {
			c.State = config.StateTable
		}
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return errUsage
	}
	log := newLogger(stdout, stderr, cfg.LogLevel)
	// GeoIP databases are local files: a bad one stops serve here, before it
	// listens, not in the middle of a batch.
	geo, closeGeo, err := openGeo(cfg)
	if err != nil {
		return err
	}
	defer closeGeo()

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	cred := &azureCredential{}
	deps := openLazy(ctx, log, "state store", func(ctx context.Context) (*opened, error) {
		return openPipeline(ctx, cfg, geo, cred, stdout)
	})
	dead := openLazy(ctx, log, "dead-letter store", func(ctx context.Context) (handler.DeadLetters, error) {
		return openDeadLetters(cfg, cred)
	})
	h := handler.New(lazyProcessor{deps}, log, handler.Options{
		MaxBodyBytes: cfg.MaxBodyBytes,
		DeadLetters:  lazyDeadLetters{dead},
		Ready:        func() error { _, err := deps.get(); return err },
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Info("drswatch serving", "addr", ln.Addr().String(), "state", cfg.State.String(), "sink", cfg.Sink.String(),
		"dead_letters", cfg.DeadLetters().String(), "geo_source", geoSource(geo))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	defer func() {
		if d, err := deps.get(); err == nil {
			d.close()
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight batches", "grace_s", shutdownGrace.Seconds())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// opened is serve's pipeline once its store and sink are open.
type opened struct {
	proc  *pipeline.Processor
	close func()
}

// openPipeline opens the state store, checks that it answers, opens the
// sink, and builds the pipeline.
func openPipeline(ctx context.Context, cfg config.Config, geo *detect.Geo, cred *azureCredential, stdout io.Writer) (*opened, error) {
	st, closeStore, err := openStore(ctx, cfg, cred)
	if err != nil {
		return nil, err
	}
	if err := probe(ctx, st); err != nil {
		closeStore()
		return nil, err
	}
	out, closeSink, err := openSink(cfg, cred, stdout)
	if err != nil {
		closeStore()
		return nil, err
	}
	return &opened{proc: pipeline.New(st, out, options(cfg, geo)), close: func() { closeSink(); closeStore() }}, nil
}

// probeGroup is a group id no detection group has (ids are SHA-256 hashes):
// reading it tells whether the store answers, with one cheap read.
const probeGroup = "0000000000000000000000000000000000000000000000000000000000000000"

// probe reads a group that does not exist: not found means the store is
// reachable, the identity may read it, and the table exists.
func probe(ctx context.Context, st pipeline.Store) error {
	_, err := st.Load(ctx, probeGroup, time.Unix(0, 0).UTC())
	if err == nil || errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// openStore returns the configured state store and a func releasing it.
func openStore(ctx context.Context, cfg config.Config, cred *azureCredential) (pipeline.Store, func(), error) {
	switch cfg.State {
	case config.StateMemory:
		return memstore.New(), func() {}, nil
	case config.StateTable:
		return openTableStore(ctx, cfg, cred)
	}
	return nil, nil, fmt.Errorf("unknown state store %s", cfg.State)
}

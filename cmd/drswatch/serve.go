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

	"github.com/drswatch/drswatch/handler"
	"github.com/drswatch/drswatch/internal/config"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/store/memstore"
)

// shutdownGrace is how long in-flight batches may run after SIGTERM.
const shutdownGrace = 25 * time.Second

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: drswatch serve (settings from the environment)")
		return errUsage
	}
	cfg, err := config.Load(getenv, "table")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return errUsage
	}
	log := newLogger(stderr, cfg.LogLevel)
	st, closeStore, err := openStore(ctx, cfg)
	if err != nil {
		log.Error("open state store", "error", err.Error())
		return err
	}
	defer closeStore()
	out, closeSink, err := openSink(cfg)
	if err != nil {
		log.Error("open alert sink", "error", err.Error())
		return err
	}
	defer closeSink()
	o := options(cfg)
	o.Lateness = cfg.Lateness
	o.FutureSkew = time.Hour
	proc := pipeline.New(st, out, o)
	h := handler.New(proc, log, handler.Options{MaxBodyBytes: cfg.MaxBodyBytes})

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Info("drswatch serving", "addr", ln.Addr().String(), "state", cfg.State, "sink", cfg.Sink)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
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

// openStore returns the configured state store and a func releasing it.
func openStore(ctx context.Context, cfg config.Config) (pipeline.Store, func(), error) {
	switch cfg.State {
	case "memory":
		return memstore.New(), func() {}, nil
	case "table":
		return openTableStore(ctx, cfg)
	}
	return nil, nil, fmt.Errorf("unknown state store %q", cfg.State)
}

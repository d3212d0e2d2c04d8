package main

import (
	"context"
	"fmt"

	"github.com/drswatch/drswatch/internal/config"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/sink"
)

func openTableStore(ctx context.Context, cfg config.Config) (pipeline.Store, func(), error) {
	return nil, nil, fmt.Errorf("table store not built yet")
}

func openSink(cfg config.Config) (pipeline.Sink, func(), error) {
	switch cfg.Sink {
	case "stdout":
		return sink.NewWriter(stdoutWriter()), func() {}, nil
	case "jsonl":
		w, err := sink.OpenJSONL(cfg.SinkPath)
		if err != nil {
			return nil, nil, fmt.Errorf("open %s: %w", cfg.SinkPath, err)
		}
		return w, func() { _ = w.Close() }, nil
	}
	return nil, nil, fmt.Errorf("sink %q not built yet", cfg.Sink)
}

package main

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/drswatch/drswatch/internal/config"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/schema"
	"github.com/drswatch/drswatch/sink"
	"github.com/drswatch/drswatch/sink/loganalytics"
)

func openTableStore(ctx context.Context, cfg config.Config) (pipeline.Store, func(), error) {
	return nil, nil, fmt.Errorf("table store not built yet")
}

// openSink returns the configured alert sink and a func releasing it.
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
	case "loganalytics":
		// Managed identity in Azure (AZURE_CLIENT_ID selects a user-assigned
		// one); a developer's Azure CLI login locally.
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, nil, fmt.Errorf("azure credential: %w", err)
		}
		s, err := loganalytics.New(cfg.LogsEndpoint, cfg.LogsRuleID, cfg.LogsStream, cred,
			&loganalytics.Options{Validate: schema.ValidateRow})
		if err != nil {
			return nil, nil, fmt.Errorf("log analytics sink: %w", err)
		}
		return s, func() {}, nil
	}
	return nil, nil, fmt.Errorf("unknown sink %q", cfg.Sink)
}

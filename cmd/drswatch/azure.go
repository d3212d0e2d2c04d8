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
	"github.com/drswatch/drswatch/store/tablestore"
)

// openTableStore opens the Table Storage state: a connection string
// (Azurite) when given, else the service URI with DefaultAzureCredential
// (the Function's managed identity in Azure).
func openTableStore(ctx context.Context, cfg config.Config) (pipeline.Store, func(), error) {
	// The table is still created on open, as before tablestore.New stopped
	// doing it; DRSWATCH_CREATE_TABLE is to decide this (see TEAM.md).
	if cfg.TableConnection != "" {
		st, err := tablestore.NewFromConnectionString(cfg.TableConnection, cfg.TableName, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("open table %s: %w", cfg.TableName, err)
		}
		if err := st.CreateTable(ctx); err != nil {
			return nil, nil, err
		}
		return st, func() {}, nil
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, nil, fmt.Errorf("azure credential: %w", err)
	}
	st, err := tablestore.New(cfg.TableServiceURI, cfg.TableName, cred, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("open table %s at %s: %w", cfg.TableName, cfg.TableServiceURI, err)
	}
	if err := st.CreateTable(ctx); err != nil {
		return nil, nil, err
	}
	return st, func() {}, nil
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

package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/drswatch/drswatch/deadletter"
	"github.com/drswatch/drswatch/handler"
	"github.com/drswatch/drswatch/internal/config"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/schema"
	"github.com/drswatch/drswatch/sink"
	"github.com/drswatch/drswatch/sink/loganalytics"
	"github.com/drswatch/drswatch/store/tablestore"
)

// azureCredential is the process's one DefaultAzureCredential (the
// Function's managed identity in Azure, AZURE_CLIENT_ID selecting a
// user-assigned one; a developer's Azure CLI login locally), built on first
// use and shared by every client. A failed build is tried again next time.
type azureCredential struct {
	mu   sync.Mutex
	cred azcore.TokenCredential
}

func (c *azureCredential) get() (azcore.TokenCredential, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cred == nil {
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, fmt.Errorf("azure credential: %w", err)
		}
		c.cred = cred
	}
	return c.cred, nil
}

// openTableStore opens the Table Storage state: a connection string
// (Azurite) when given, else the service URI with the credential. It
// creates the table only with DRSWATCH_CREATE_TABLE=true (Azurite, replay):
// in Azure the template creates it and the app's role is scoped to it.
func openTableStore(ctx context.Context, cfg config.Config, cred *azureCredential) (pipeline.Store, func(), error) {
	var st *tablestore.Store
	var err error
	if cfg.TableConnection != "" {
		st, err = tablestore.NewFromConnectionString(cfg.TableConnection, cfg.TableName, nil)
	} else {
		var c azcore.TokenCredential
		if c, err = cred.get(); err != nil {
			return nil, nil, err
		}
		st, err = tablestore.New(cfg.TableServiceURI, cfg.TableName, c, nil)
	}
	if err != nil {
		return nil, nil, err
	}
	if cfg.CreateTable {
		if err := st.CreateTable(ctx); err != nil {
			return nil, nil, err
		}
	}
	return st, func() {}, nil
}

// openSink returns the configured alert sink and a func releasing it;
// `stdout` alerts go to stdout.
func openSink(cfg config.Config, cred *azureCredential, stdout io.Writer) (pipeline.Sink, func(), error) {
	switch cfg.Sink {
	case config.SinkStdout:
		return sink.NewWriter(stdout), func() {}, nil
	case config.SinkJSONL:
		w, err := sink.OpenJSONL(cfg.SinkPath) // its error names the path
		if err != nil {
			return nil, nil, err
		}
		return w, func() { _ = w.Close() }, nil
	case config.SinkLogAnalytics:
		c, err := cred.get()
		if err != nil {
			return nil, nil, err
		}
		s, err := loganalytics.New(cfg.LogsEndpoint, cfg.LogsRuleID, cfg.LogsStream, c,
			&loganalytics.Options{Validate: schema.ValidateRow})
		if err != nil {
			return nil, nil, err // "loganalytics: ..."
		}
		return s, func() {}, nil
	}
	return nil, nil, fmt.Errorf("unknown sink %s", cfg.Sink)
}

// openDeadLetters returns the dead-letter store: the blob container by
// connection string (Azurite) or by service URI with the credential (the
// state storage account in Azure), else a local directory.
func openDeadLetters(cfg config.Config, cred *azureCredential) (handler.DeadLetters, error) {
	switch cfg.DeadLetters() {
	case config.DeadLetterBlobConnection:
		return deadletter.NewBlobFromConnectionString(cfg.BlobConnection, cfg.DeadLetterContainer, nil)
	case config.DeadLetterBlobIdentity:
		c, err := cred.get()
		if err != nil {
			return nil, err
		}
		return deadletter.NewBlob(cfg.BlobServiceURI, cfg.DeadLetterContainer, c, nil)
	}
	return deadletter.NewDir(cfg.DeadLetterDir), nil
}

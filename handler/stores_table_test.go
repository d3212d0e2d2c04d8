package handler_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/internal/testenv"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/store/tablestore"
)

// azurite is one real Azurite table service for this package's tests.
var azurite testenv.SharedAzurite

func TestMain(m *testing.M) {
	flag.Parse()
	// Fuzzing runs no table test, and every fuzz worker process runs TestMain:
	// starting Azurite in each would cost seconds per worker.
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run())
	}
	stop := azurite.Start()
	code := m.Run()
	stop()
	os.Exit(code)
}

var tableSeq atomic.Int64

// openTable returns a Table Storage store on a new table in Azurite.
func openTable(t *testing.T) pipeline.Store {
	t.Helper()
	conn := azurite.Get(t).ConnectionString()
	name := fmt.Sprintf("h%d%d", time.Now().UnixNano()%1e9, tableSeq.Add(1))
	st, err := tablestore.NewFromConnectionString(conn, name, nil)
	require.NoError(t, err)
	require.NoError(t, st.CreateTable(context.Background()))
	return st
}

func init() {
	stores = append(stores, storeKind{"table", openTable})
}

package tablestore_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/internal/testenv"
	"github.com/drswatch/drswatch/store"
	"github.com/drswatch/drswatch/store/storetest"
	"github.com/drswatch/drswatch/store/tablestore"
)

var _ storetest.Store = (*tablestore.Store)(nil)

var azurite testenv.SharedAzurite

func TestMain(m *testing.M) {
	flag.Parse()
	// Fuzzing runs no table test, and every fuzz worker process runs TestMain.
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run())
	}
	stop := azurite.Start()
	code := m.Run()
	stop()
	os.Exit(code)
}

var tableSeq atomic.Int64

// open returns a store on a new table, deleted when the test ends.
func open(t *testing.T) *tablestore.Store {
	t.Helper()
	conn := azurite.Get(t).ConnectionString()
	name := fmt.Sprintf("t%d%d", time.Now().UnixNano()%1e9, tableSeq.Add(1))
	ctx := context.Background()
	s, err := tablestore.NewFromConnectionString(ctx, conn, name, nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		svc, err := aztables.NewServiceClientFromConnectionString(conn, nil)
		if err == nil {
			_, _ = svc.DeleteTable(context.Background(), name, nil)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return open(t) })
}

func TestOpenTwice(t *testing.T) {
	conn := azurite.Get(t).ConnectionString()
	ctx := context.Background()
	_, err := tablestore.NewFromConnectionString(ctx, conn, "opentwice", nil)
	require.NoError(t, err)
	_, err = tablestore.NewFromConnectionString(ctx, conn, "opentwice", nil)
	require.NoError(t, err, "an existing table is fine")
}

func TestTooLargeSendsNothing(t *testing.T) {
	s := open(t)
	r0, w0 := s.Calls()
	g := store.Group{
		ID: "ab", Window: time.Unix(1_800_000_000, 0), ExpiresAt: time.Unix(1_800_000_600, 0),
		State: make([]byte, store.MaxStateBytes+1),
	}
	_, err := s.Commit(context.Background(), g, nil)
	require.ErrorIs(t, err, store.ErrTooLarge)
	r1, w1 := s.Calls()
	require.Equal(t, [2]int64{r0, w0}, [2]int64{r1, w1})
}

func TestCallsPerCommit(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	g := store.Group{ID: "cd", Window: time.Unix(1_800_000_000, 0), ExpiresAt: time.Unix(1_800_000_600, 0), State: []byte("x")}
	r0, w0 := s.Calls()
	etag, err := s.Commit(ctx, g, []store.Pending{{GroupID: g.ID, Window: g.Window, Revision: 1, Row: []byte("{}")}})
	require.NoError(t, err)
	require.NotEmpty(t, etag)
	got, err := s.Load(ctx, g.ID, g.Window)
	require.NoError(t, err)
	require.Equal(t, etag, got.ETag, "the ETag from the transaction response is the stored one")
	r1, w1 := s.Calls()
	require.Equal(t, int64(1), w1-w0, "one write: group and outbox in one transaction")
	require.Equal(t, int64(1), r1-r0)
}

func TestAzuriteDownAndBack(t *testing.T) {
	srv := testenv.StartAzurite(t, testenv.Persistent())
	if srv.External() {
		t.Skip("needs an Azurite started by the test")
	}
	ctx := context.Background()
	s, err := tablestore.NewFromConnectionString(ctx, srv.ConnectionString(), "faults", &tablestore.Options{
		ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	require.NoError(t, err)
	g := store.Group{ID: "ef", Window: time.Unix(1_800_000_000, 0), ExpiresAt: time.Unix(1_800_000_600, 0), State: []byte("v1")}
	etag, err := s.Commit(ctx, g, nil)
	require.NoError(t, err)

	require.NoError(t, srv.Stop())
	g.ETag, g.State = etag, []byte("v2")
	_, err = s.Commit(ctx, g, []store.Pending{{GroupID: g.ID, Window: g.Window, Revision: 1}})
	require.Error(t, err)
	require.NotErrorIs(t, err, store.ErrConflict)
	require.NotErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, srv.Restart())
	got, err := s.Load(ctx, g.ID, g.Window)
	require.NoError(t, err)
	require.Equal(t, []byte("v1"), got.State)
	require.Equal(t, etag, got.ETag)
	_, err = s.Commit(ctx, g, []store.Pending{{GroupID: g.ID, Window: g.Window, Revision: 1}})
	require.NoError(t, err, "the ETag read before the outage is still valid")
}

package tablestore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
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
func open(t *testing.T) *tablestore.Store { return openWith(t, nil) }

func openWith(t *testing.T, opts *tablestore.Options) *tablestore.Store {
	t.Helper()
	conn := azurite.Get(t).ConnectionString()
	name := fmt.Sprintf("t%d%d", time.Now().UnixNano()%1e9, tableSeq.Add(1))
	s, err := tablestore.NewFromConnectionString(conn, name, opts)
	require.NoError(t, err)
	require.NoError(t, s.CreateTable(context.Background()))
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

func TestCreateTableTwice(t *testing.T) {
	conn := azurite.Get(t).ConnectionString()
	ctx := context.Background()
	s, err := tablestore.NewFromConnectionString(conn, "createtwice", nil)
	require.NoError(t, err)
	require.NoError(t, s.CreateTable(ctx))
	require.NoError(t, s.CreateTable(ctx), "an existing table is fine")
	_, w := s.Calls()
	require.Equal(t, int64(2), w)
}

func TestNewSendsNothing(t *testing.T) {
	// Nothing listens on port 1: a constructor that sent a request would fail.
	const down = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + testenv.AzuriteKey +
		";TableEndpoint=http://127.0.0.1:1/devstoreaccount1;"
	s, err := tablestore.NewFromConnectionString(down, "nothing", nil)
	require.NoError(t, err)
	r, w := s.Calls()
	require.Equal(t, [2]int64{0, 0}, [2]int64{r, w})
	_, err = tablestore.New("https://account.table.core.windows.net", "nothing", fakeCredential{}, nil)
	require.NoError(t, err)

	conn := azurite.Get(t).ConnectionString()
	s, err = tablestore.NewFromConnectionString(conn, fmt.Sprintf("missing%d", time.Now().UnixNano()), nil)
	require.NoError(t, err)
	_, err = s.Load(context.Background(), "ab", time.Unix(1_800_000_000, 0))
	require.Error(t, err, "the table was not created")
	require.NotErrorIs(t, err, store.ErrNotFound, "a missing table is not a missing group")
}

type fakeCredential struct{}

func (fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "fake", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestTooLargeSendsNothing(t *testing.T) {
	s := open(t)
	r0, w0 := s.Calls()
	g := store.Group{
		ID: "ab", Window: time.Unix(1_800_000_000, 0), ExpiresAt: time.Unix(1_800_000_600, 0),
		State: make([]byte, store.MaxStateBytes+1),
	}
	err := s.Commit(context.Background(), g, nil)
	require.ErrorIs(t, err, store.ErrTooLarge)
	r1, w1 := s.Calls()
	require.Equal(t, [2]int64{r0, w0}, [2]int64{r1, w1})
}

func TestCallsPerCommit(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	g := store.Group{ID: "cd", Window: time.Unix(1_800_000_000, 0), ExpiresAt: time.Unix(1_800_000_600, 0), State: []byte("x")}
	r0, w0 := s.Calls()
	err := s.Commit(ctx, g, []store.Pending{{GroupID: g.ID, Window: g.Window, Revision: 1, Row: []byte("{}")}})
	require.NoError(t, err)
	got, err := s.Load(ctx, g.ID, g.Window)
	require.NoError(t, err)
	require.NotEmpty(t, got.ETag)
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
	s, err := tablestore.NewFromConnectionString(srv.ConnectionString(), "faults", &tablestore.Options{
		ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	require.NoError(t, err)
	require.NoError(t, s.CreateTable(ctx))
	g := store.Group{ID: "ef", Window: time.Unix(1_800_000_000, 0), ExpiresAt: time.Unix(1_800_000_600, 0), State: []byte("v1")}
	require.NoError(t, s.Commit(ctx, g, nil))
	stored, err := s.Load(ctx, g.ID, g.Window)
	require.NoError(t, err)
	etag := stored.ETag

	require.NoError(t, srv.Stop())
	g.ETag, g.State = etag, []byte("v2")
	err = s.Commit(ctx, g, []store.Pending{{GroupID: g.ID, Window: g.Window, Revision: 1}})
	require.Error(t, err)
	require.NotErrorIs(t, err, store.ErrConflict)
	require.NotErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, srv.Restart())
	got, err := s.Load(ctx, g.ID, g.Window)
	require.NoError(t, err)
	require.Equal(t, []byte("v1"), got.State)
	require.Equal(t, etag, got.ETag)
	err = s.Commit(ctx, g, []store.Pending{{GroupID: g.ID, Window: g.Window, Revision: 1}})
	require.NoError(t, err, "the ETag read before the outage is still valid")
}

// readMeter records the filters of queries and counts what the service
// sent back to them: entities and bytes of the responses to GETs.
type readMeter struct {
	entities, bytes atomic.Int64
	mu              sync.Mutex
	filters         []string
}

func (m *readMeter) Do(req *policy.Request) (*http.Response, error) {
	if req.Raw().Method == http.MethodGet {
		m.mu.Lock()
		m.filters = append(m.filters, req.Raw().URL.Query().Get("$filter"))
		m.mu.Unlock()
	}
	resp, err := req.Next()
	if err != nil || req.Raw().Method != http.MethodGet {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	var page struct {
		Value []json.RawMessage `json:"value"`
	}
	if json.Unmarshal(b, &page) == nil {
		m.entities.Add(int64(len(page.Value)))
	}
	m.bytes.Add(int64(len(b)))
	return resp, nil
}

func (m *readMeter) reset() {
	m.entities.Store(0)
	m.bytes.Store(0)
	m.mu.Lock()
	m.filters = nil
	m.mu.Unlock()
}

func meteredStore(t *testing.T) (*tablestore.Store, *readMeter) {
	m := &readMeter{}
	return openWith(t, &tablestore.Options{ClientOptions: azcore.ClientOptions{PerCallPolicies: []policy.Policy{m}}}), m
}

// TestExpireReadsOnlyDue: with the window bound the pipeline passes, Expire
// asks the service for the partitions below it only (so the service scans
// the due groups' windows, not the live ones) and gets the due groups back.
func TestExpireReadsOnlyDue(t *testing.T) {
	s, m := meteredStore(t)
	ctx := context.Background()
	now := time.Unix(1_800_003_600, 0)
	life := 30 * time.Minute
	var due int
	for i := range 40 {
		w := now.Add(-life - 5*time.Minute + time.Duration(i)*time.Minute) // 5 due, 35 live
		g := store.Group{ID: storetest.ID(fmt.Sprint(i)), Window: w, ExpiresAt: w.Add(life), State: []byte("x")}
		if g.ExpiresAt.Before(now) {
			due++
		}
		require.NoError(t, s.Commit(ctx, g, nil))
	}
	require.Equal(t, 5, due)
	m.reset()
	n, err := s.Expire(ctx, store.Cutoff{ExpiresBefore: now, WindowsBefore: now.Add(-life)})
	require.NoError(t, err)
	require.Equal(t, due, n)
	require.Equal(t, int64(due), m.entities.Load(), "entities read")
	require.NotEmpty(t, m.filters)
	for _, f := range m.filters {
		require.Contains(t, f, fmt.Sprintf("PartitionKey lt '%012d'", now.Add(-life).Unix()), "the scanned key range")
	}
}

// TestCountPendingReadsNoRows: counting asks for keys, not the rows.
func TestCountPendingReadsNoRows(t *testing.T) {
	s, m := meteredStore(t)
	ctx := context.Background()
	g := store.Group{ID: "ab", Window: time.Unix(1_800_000_000, 0), ExpiresAt: time.Unix(1_800_000_600, 0)}
	const entries, rowBytes = 20, 100 << 10
	outbox := make([]store.Pending, entries)
	for i := range outbox {
		outbox[i] = store.Pending{GroupID: g.ID, Window: g.Window, Revision: i + 1, Row: bytes.Repeat([]byte("r"), rowBytes)}
	}
	require.NoError(t, s.Commit(ctx, g, outbox))
	m.reset()
	n, err := s.CountPending(ctx)
	require.NoError(t, err)
	require.Equal(t, entries, n)
	require.Equal(t, int64(entries), m.entities.Load())
	require.Less(t, m.bytes.Load(), int64(entries*1024), "bytes read for %d entries of %d-byte rows", entries, rowBytes)
}
